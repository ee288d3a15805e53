import { createHash } from 'node:crypto'
import type { Auth, RequestLike } from '@zerotrust/core'
import { checkCertificateBinding } from '@zerotrust/core/layer'
import type { VerifiedProof } from './proof.js'
import { invalidProof, invalidToken } from './refusals.js'
import type { DpopState } from './state.js'

/**
 * Checks that the proof was made over this token (`ath`) and that the token is bound to the proof's key
 * (`cnf.jkt`); a token bound to a certificate as well (RFC 8705) must also come over that TLS connection.
 *
 * @throws ZeroTrustError `invalid_dpop_proof` (`ath`), `invalid_token` (`not_dpop_bound`, `key_mismatch`,
 * `certificate_mismatch`)
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3 (checks 11–12)
 */
export function checkTokenBinding(
  state: DpopState,
  proof: VerifiedProof,
  token: string,
  auth: Auth,
  req: RequestLike,
): void {
  const challenges = state.challenges.dpopFailure
  if (proof.ath === undefined || proof.ath !== createHash('sha256').update(token).digest('base64url')) {
    throw invalidProof('the DPoP proof was not made for this access token', 'ath', challenges)
  }
  const jkt = auth.cnf?.jkt
  if (jkt === undefined) {
    throw invalidToken('the access token is not bound to a DPoP key', 'not_dpop_bound', challenges)
  }
  if (jkt !== proof.thumbprint) {
    throw invalidToken('the access token is bound to another key', 'key_mismatch', challenges)
  }
  if (auth.cnf?.['x5t#S256'] !== undefined) checkCertificateBinding(auth, req, challenges)
}
