import { createHash, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import type { SigningKey } from './keys.js'
import { withoutUndefined } from './lib/without-undefined.js'

/** What a DPoP proof is for: the request's method and URL, and the bound access token or nonce if any. */
export interface DpopProofOptions {
  /** The HTTP method (`htm`). */
  readonly method: string
  /** The target URL (`htu`); query and fragment are dropped as RFC 9449 §4.2 requires. */
  readonly url: string | URL
  /** The access token the proof accompanies; sets `ath`. */
  readonly accessToken?: string
  /** A server-provided `DPoP-Nonce`. */
  readonly nonce?: string
  /** Seconds since the epoch; defaults to now. */
  readonly iat?: number
  /** Defaults to a random UUID. */
  readonly jti?: string
}

/**
 * Creates a DPoP proof JWT signed with `key`, carrying its public JWK in the header.
 *
 * @example
 * const proof = await createDpopProof(clientKey, { method: 'POST', url: as.tokenEndpoint })
 * const { accessToken } = await as.token({ dpopProof: proof })
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
export async function createDpopProof(key: SigningKey, options: DpopProofOptions): Promise<string> {
  const htu = new URL(options.url)
  htu.search = ''
  htu.hash = ''
  const payload = withoutUndefined({
    htm: options.method,
    htu: htu.href,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    jti: options.jti ?? randomUUID(),
    nonce: options.nonce,
    // RFC 9449 §4.2: base64url of the SHA-256 of the access token's ASCII bytes.
    ath:
      options.accessToken === undefined
        ? undefined
        : createHash('sha256').update(options.accessToken).digest('base64url'),
  })
  // Only the key material: the proof carries the public key, nothing that names it elsewhere.
  const { kid: _kid, use: _use, alg: _alg, ...jwk } = key.publicJwk
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk }).sign(key.privateKey)
}
