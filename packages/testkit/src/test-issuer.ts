import type { JSONWebKeySet } from 'jose'
import { signAccessToken } from './access-token.js'
import { generateSigningKey, toJwks } from './keys.js'

/** An issuer whose keys never leave the process: for tests that need signed tokens and no server. */
export interface TestIssuer {
  /** The public keys, for `jwtBearer({ jwks })`. */
  readonly jwks: JSONWebKeySet
  /** Signs an RFC 9068 access token for alice (`client_id` `web`, scope `orders:read`) with `claims` on top. */
  sign(claims?: Readonly<Record<string, unknown>>): Promise<string>
}

/**
 * Makes an ES256 key and a signer of access tokens for `issuer` and `audience`.
 *
 * @example
 * const idp = await testIssuer({ issuer, audience })
 * const tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })
 * const token = await idp.sign({ scope: 'orders:write' })
 */
export async function testIssuer(options: {
  readonly issuer: string
  readonly audience: string
}): Promise<TestIssuer> {
  const key = await generateSigningKey('ES256', 'k1')
  return {
    jwks: toJwks(key),
    sign: (claims = {}) =>
      signAccessToken(key, {
        iss: options.issuer,
        aud: options.audience,
        sub: 'alice',
        client_id: 'web',
        scope: 'orders:read',
        ...claims,
      }),
  }
}
