/** The JWS algorithms jwtBearer verifies with keys from a JWKS. */
export const asymmetricAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const

/** The JWS algorithms jwtBearer verifies with an explicit shared secret. */
export const hmacAlgorithms = ['HS256', 'HS384', 'HS512'] as const

export type AsymmetricAlgorithm = (typeof asymmetricAlgorithms)[number]
export type HmacAlgorithm = (typeof hmacAlgorithms)[number]
/** A JWS algorithm jwtBearer can pin; `none` is not one. */
export type JwtAlgorithm = AsymmetricAlgorithm | HmacAlgorithm

// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
export const minimumSecretBytes: Readonly<Record<HmacAlgorithm, number>> = {
  HS256: 32,
  HS384: 48,
  HS512: 64,
}

export function isHmac(alg: string): alg is HmacAlgorithm {
  return (hmacAlgorithms as readonly string[]).includes(alg)
}
