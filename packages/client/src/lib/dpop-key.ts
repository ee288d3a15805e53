// RFC 9449 §4.2 proofs, signed with node:crypto directly: the key is imported once, the protected header
// encoded once, and a proof costs one signature plus a small JSON payload. A proof's `ath` is the hash of
// the token it goes with, kept for the last token (tokens are cached, so it is nearly always that one).
import { constants, createHash, KeyObject, randomUUID, sign, type webcrypto } from 'node:crypto'

/** The algorithms proofs are signed with, named from the key. */
export type DpopProofAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'RS256' | 'PS256'

/** A DPoP key ready to sign proofs; made once per client. */
export interface DpopSigner {
  readonly alg: DpopProofAlgorithm
  /** The key pair, for oauth4webapi's DPoP at the token endpoint. */
  readonly pair: webcrypto.CryptoKeyPair
  /** RFC 7638 SHA-256 thumbprint of the public key: what a bound token's `cnf.jkt` holds. */
  readonly jkt: string
  /**
   * A proof for `method` on `htu` (origin and path, no query or fragment), with `ath` when a token is
   * given and `nonce` when the server sent one.
   */
  proof(method: string, htu: string, accessToken: string | undefined, nonce: string | undefined): string
}

interface Scheme {
  readonly alg: DpopProofAlgorithm
  readonly hash: string | null
  readonly options: Partial<{ dsaEncoding: 'ieee-p1363'; padding: number; saltLength: number }>
}

function schemeOf(key: webcrypto.CryptoKey): Scheme | undefined {
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } }
  const ieee = { dsaEncoding: 'ieee-p1363' } as const
  switch (algorithm.name) {
    case 'ECDSA':
      if (algorithm.namedCurve === 'P-256') return { alg: 'ES256', hash: 'sha256', options: ieee }
      if (algorithm.namedCurve === 'P-384') return { alg: 'ES384', hash: 'sha384', options: ieee }
      if (algorithm.namedCurve === 'P-521') return { alg: 'ES512', hash: 'sha512', options: ieee }
      return undefined
    case 'Ed25519':
      return { alg: 'EdDSA', hash: null, options: {} }
    case 'RSASSA-PKCS1-v1_5':
      return algorithm.hash?.name === 'SHA-256' ? { alg: 'RS256', hash: 'sha256', options: {} } : undefined
    case 'RSA-PSS':
      return algorithm.hash?.name === 'SHA-256'
        ? {
            alg: 'PS256',
            hash: 'sha256',
            options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          }
        : undefined
    default:
      return undefined
  }
}

/** Whether a value is a WebCrypto key pair this package can sign proofs with. */
export function isDpopKeyPair(value: unknown): value is webcrypto.CryptoKeyPair {
  const pair = value as Partial<webcrypto.CryptoKeyPair> | undefined
  if (typeof pair !== 'object' || pair === null) return false
  const { privateKey, publicKey } = pair
  return (
    isCryptoKey(privateKey) &&
    isCryptoKey(publicKey) &&
    privateKey.type === 'private' &&
    publicKey.type === 'public' &&
    privateKey.usages.includes('sign') &&
    schemeOf(privateKey) !== undefined &&
    schemeOf(publicKey)?.alg === schemeOf(privateKey)?.alg
  )
}

function isCryptoKey(value: unknown): value is webcrypto.CryptoKey {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.prototype.toString.call(value) === '[object CryptoKey]'
  )
}

// RFC 7638 §3.2: the required members of each key type, in lexicographic order.
const thumbprintMembers: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
}

/**
 * Prepares a key pair (checked by {@link isDpopKeyPair}) to sign proofs.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
export function dpopSigner(pair: webcrypto.CryptoKeyPair): DpopSigner {
  const scheme = schemeOf(pair.privateKey) as Scheme
  const privateKey = KeyObject.from(pair.privateKey)
  const jwk = KeyObject.from(pair.publicKey).export({ format: 'jwk' }) as Record<string, string>
  const members = thumbprintMembers[jwk.kty as string] ?? []
  const publicJwk = Object.fromEntries(members.map((name) => [name, jwk[name] as string]))
  const jkt = createHash('sha256').update(JSON.stringify(publicJwk)).digest('base64url')
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: scheme.alg, jwk: publicJwk })).toString(
    'base64url',
  )
  const signOptions = { key: privateKey, ...scheme.options }
  let lastToken: string | undefined
  let lastAth = ''
  return Object.freeze({
    alg: scheme.alg,
    pair,
    jkt,
    proof(method: string, htu: string, accessToken: string | undefined, nonce: string | undefined): string {
      const claims: Record<string, string | number> = {
        // RFC 9449 §4.2: a unique identifier; a random UUID (122 random bits) draws on Node's entropy cache.
        jti: randomUUID(),
        htm: method,
        htu,
        iat: Math.floor(Date.now() / 1000),
      }
      if (accessToken !== undefined) {
        if (accessToken !== lastToken) {
          lastAth = createHash('sha256').update(accessToken).digest('base64url')
          lastToken = accessToken
        }
        claims.ath = lastAth
      }
      if (nonce !== undefined) claims.nonce = nonce
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
      const signature = sign(scheme.hash, Buffer.from(input), signOptions)
      return `${input}.${signature.toString('base64url')}`
    },
  })
}
