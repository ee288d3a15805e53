import { createHash, timingSafeEqual } from 'node:crypto'
import type { Auth } from './auth.js'
import { type Challenge, ZeroTrustError } from './errors.js'
import type { PeerCertificate, RequestLike } from './request.js'

/** Options of a layer's `verify(token)`, which checks a bare token without a request. */
export interface VerifyOptions {
  /**
   * `checked-by-caller`: return a token bound by `cnf` (or `token_type: DPoP`) instead of refusing it;
   * the caller then must check the proof of possession (RFC 9449) or the client certificate (RFC 8705).
   */
  readonly binding?: 'refuse' | 'checked-by-caller'
}

/** Whether a token is bound to a DPoP key: `cnf.jkt`, or an introspection `token_type` of `DPoP`. */
export function isDpopBound(auth: Auth): boolean {
  const tokenType = auth.claims.token_type
  return auth.cnf?.jkt !== undefined || (typeof tokenType === 'string' && tokenType.toLowerCase() === 'dpop')
}

/**
 * Refuses a key- or certificate-bound token that came as a bearer token: a DPoP-bound token must come
 * with the DPoP scheme and a proof (RFC 9449 §7.2), a certificate-bound one over a TLS connection with
 * that certificate (RFC 8705 §3). Without a request there is no connection, so a certificate-bound token
 * is refused too.
 *
 * @throws ZeroTrustError `invalid_token` with the reason `dpop_bound` or `certificate_mismatch`
 */
export function checkBinding(
  auth: Auth,
  req: RequestLike | undefined,
  challenges: readonly Challenge[],
): void {
  if (isDpopBound(auth)) {
    throw new ZeroTrustError('invalid_token', 'the access token is bound to a DPoP key', {
      reason: 'dpop_bound',
      challenges,
    })
  }
  checkCertificateBinding(auth, req, challenges)
}

/**
 * Refuses a certificate-bound token (`cnf["x5t#S256"]`, RFC 8705 §3) unless the request came over a TLS
 * connection with that client certificate. For layers that check a DPoP binding themselves and still
 * owe the certificate check.
 *
 * @throws ZeroTrustError `invalid_token` with the reason `certificate_mismatch`
 */
export function checkCertificateBinding(
  auth: Auth,
  req: RequestLike | undefined,
  challenges: readonly Challenge[],
): void {
  const expected = auth.cnf?.['x5t#S256']
  if (expected !== undefined && !certificateMatches(expected, req?.peerCertificate?.())) {
    throw new ZeroTrustError('invalid_token', 'the access token is bound to another client certificate', {
      reason: 'certificate_mismatch',
      challenges,
    })
  }
}

function certificateMatches(expected: string, certificate: PeerCertificate | undefined): boolean {
  if (certificate === undefined) return false
  const actual = createHash('sha256').update(certificate.raw).digest()
  const wanted = Buffer.from(expected, 'base64url')
  return wanted.length === actual.length && timingSafeEqual(wanted, actual)
}
