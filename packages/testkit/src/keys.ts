import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWK,
} from 'jose'

/** The asymmetric JWS algorithms the testkit generates keys for. */
export type AsymmetricAlgorithm =
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'EdDSA'

const asymmetricAlgorithms: ReadonlySet<string> = new Set<AsymmetricAlgorithm>([
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
])

/** A generated signing key pair: the private half signs, the public JWK goes into a JWKS. */
export interface SigningKey {
  readonly alg: AsymmetricAlgorithm
  readonly kid: string
  /** Extractable, so that it can also be handed to an authorization server as a JWK. */
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  /** The public key as a JWK with `kid`, `alg` and `use: "sig"`, ready for a JWKS. */
  readonly publicJwk: JWK
  /** The private key as a JWK with `kid`, `alg` and `use: "sig"`. */
  readonly privateJwk: JWK
}

/**
 * Generates a signing key pair for `alg` with a `kid` (the JWK thumbprint unless given).
 *
 * @example
 * const key = await generateSigningKey('ES256')
 * const jwks = { keys: [key.publicJwk] }
 * @throws TypeError when `alg` is not an asymmetric JWS algorithm the testkit supports
 */
export async function generateSigningKey(
  alg: AsymmetricAlgorithm = 'ES256',
  kid?: string,
): Promise<SigningKey> {
  if (!asymmetricAlgorithms.has(alg)) {
    throw new TypeError(`"alg" must be one of ${[...asymmetricAlgorithms].join(', ')}`)
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  })
  const bare = await exportJWK(publicKey)
  const id = kid ?? (await calculateJwkThumbprint(bare, 'sha256'))
  const params = { kid: id, alg, use: 'sig' }
  return Object.freeze({
    alg,
    kid: id,
    privateKey,
    publicKey,
    publicJwk: Object.freeze({ ...bare, ...params }),
    privateJwk: Object.freeze({ ...(await exportJWK(privateKey)), ...params }),
  })
}

/**
 * The JWKS that publishes the public halves of `keys`.
 *
 * @example
 * const jwks = toJwks(current, next)
 */
export function toJwks(...keys: readonly SigningKey[]): JSONWebKeySet {
  return { keys: keys.map((key) => ({ ...key.publicJwk })) }
}

/** The RFC 7638 thumbprint of a key's public JWK, as in `cnf.jkt` of a DPoP-bound token. */
export function jwkThumbprint(key: SigningKey): Promise<string> {
  return calculateJwkThumbprint(key.publicJwk, 'sha256')
}
