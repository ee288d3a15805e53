import { randomUUID } from 'node:crypto'
import { type JWTHeaderParameters, SignJWT } from 'jose'
import type { SigningKey } from './keys.js'
import { withoutUndefined } from './lib/without-undefined.js'

/** The HMAC JWS algorithms {@link signAccessToken} accepts with a {@link SharedSecret}. */
export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512'

/** A shared secret for HMAC-signed tokens (tests of symmetric verification and of algorithm confusion). */
export interface SharedSecret {
  readonly alg: HmacAlgorithm
  readonly secret: Uint8Array
  readonly kid?: string
}

/**
 * Claims of an access token. `iat`, `exp` (five minutes later) and `jti` are filled in unless given;
 * give a claim the value `undefined` to leave it out of the token.
 */
export interface AccessTokenClaims {
  iss?: string | undefined
  sub?: string | undefined
  aud?: string | string[] | undefined
  client_id?: string | undefined
  scope?: string | undefined
  iat?: number | undefined
  exp?: number | undefined
  nbf?: number | undefined
  jti?: string | undefined
  cnf?: { jkt?: string; 'x5t#S256'?: string } | undefined
  [claim: string]: unknown
}

/** Header parameters to set on top of the defaults; `undefined` removes one (such as `typ` or `kid`). */
export type HeaderOverrides = {
  [parameter in keyof JWTHeaderParameters]?: JWTHeaderParameters[parameter] | undefined
} & {
  [parameter: string]: unknown
}

/** The default lifetime of a token from {@link signAccessToken}, in seconds. */
export const defaultTokenLifetime = 300

/**
 * Signs an RFC 9068-shaped JWT access token: header `typ: at+jwt`, the key's `alg` and `kid`, and the
 * given claims over defaults for `iat`, `exp` and `jti`.
 *
 * @example
 * const token = await signAccessToken(key, {
 *   iss: 'http://127.0.0.1:4000', aud: 'api://orders', sub: 'svc-a', client_id: 'svc-a', scope: 'orders:read',
 * })
 * // a token without "typ": await signAccessToken(key, claims, { typ: undefined })
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2
 */
export async function signAccessToken(
  key: SigningKey | SharedSecret,
  claims: AccessTokenClaims,
  headerOverrides: HeaderOverrides = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const payload = withoutUndefined({
    iat: now,
    exp: now + defaultTokenLifetime,
    jti: randomUUID(),
    ...claims,
  })
  const header = withoutUndefined({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...headerOverrides })
  const signing = 'secret' in key ? key.secret : key.privateKey
  return new SignJWT(payload).setProtectedHeader(header as JWTHeaderParameters).sign(signing)
}
