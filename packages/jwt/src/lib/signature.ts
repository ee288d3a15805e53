import {
  constants,
  createHmac,
  createPublicKey,
  type JsonWebKey,
  KeyObject,
  timingSafeEqual,
  type VerifyKeyObjectInput,
  verify,
} from 'node:crypto'
import type { CryptoKey, KeyObject as JoseKeyObject, JWK } from 'jose'

/**
 * A key ready to check the signatures of one JWS algorithm.
 *
 * The check is the synchronous `crypto.verify`, on the event loop's thread, not its callback form, which
 * runs on libuv's thread pool. Measured with 64 verifications in flight (bench/verify.bench.ts,
 * benchmarks/RESULTS.md, 2 vCPUs): the pool costs about as much CPU per verification (ECDSA, EdDSA) or
 * more (RSA: +3 to +15 µs for the trip), so it raises throughput only by running on a core the process
 * would otherwise leave idle: ×0.8–3.4 with two cores, the most when the second one was free of other
 * processes; with one core (`taskset -c 0`: a container limited to one CPU, or one process per core)
 * ×0.85–1.2 for ECDSA and EdDSA and ×0.7–0.9 for RSA. A lone token waits 13–18 µs longer for the trip
 * (+15% on ES256, +45% on RS256, where the goal is 1.2× the synchronous floor), and the pool's four
 * threads are shared with the file system, DNS lookups and zlib. jose's WebCrypto check takes that trip
 * for every token, so one process on two cores verified 7–28% more cold tokens a second with it than it
 * does now, for 27–140% more CPU per token: one process per core uses the cores better.
 */
export interface SignatureKey {
  /**
   * Whether `signature` is this key's signature of `input` (RFC 7515 §5.2 step 8). Throws a `TypeError`
   * (an internal error, as jose's own key checks) when the key cannot serve the algorithm.
   */
  verify(input: Buffer, signature: Buffer): boolean
}

type Digest = 'sha256' | 'sha384' | 'sha512'

/** How one algorithm checks a signature with node:crypto (RFC 7518 §3, RFC 8037 §3.1). */
interface Scheme {
  /** The digest given to `crypto.verify`; `null` for EdDSA, which hashes internally. */
  readonly digest: Digest | null
  readonly keyType: 'rsa' | 'ec' | 'ed25519'
  /** The curve an ECDSA key must be on, as node:crypto names it. */
  readonly curve?: string
  /** The exact length of a signature, where the algorithm fixes it. */
  readonly signatureBytes?: number
  /** The `crypto.verify` key options besides the key itself. */
  readonly options: Omit<VerifyKeyObjectInput, 'key'>
}

// RFC 7518 §3.3 and §3.5: RSA keys of 2048 bits or more, as jose requires.
const rsa = (digest: Digest): Scheme => ({ digest, keyType: 'rsa', options: {} })
// RFC 7518 §3.5: RSASSA-PSS with MGF1 on the same hash and a salt as long as the hash (what WebCrypto's
// `saltLength: 32/48/64` asks of jose); RSA_PSS_SALTLEN_DIGEST accepts that length and no other.
const pss = (digest: Digest): Scheme => ({
  digest,
  keyType: 'rsa',
  options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
})
// RFC 7518 §3.4: the JWS form of an ECDSA signature is r || s, each as long as the curve's order (not
// DER), so its length is fixed and anything else is refused before any arithmetic.
const ecdsa = (digest: Digest, curve: string, signatureBytes: number): Scheme => ({
  digest,
  keyType: 'ec',
  curve,
  signatureBytes,
  options: { dsaEncoding: 'ieee-p1363' },
})
// RFC 8037 §3.1: EdDSA over Ed25519 (the one curve jose verifies), 64-byte signatures.
const ed25519: Scheme = { digest: null, keyType: 'ed25519', signatureBytes: 64, options: {} }

const schemes: ReadonlyMap<string, Scheme> = new Map([
  ['RS256', rsa('sha256')],
  ['RS384', rsa('sha384')],
  ['RS512', rsa('sha512')],
  ['PS256', pss('sha256')],
  ['PS384', pss('sha384')],
  ['PS512', pss('sha512')],
  ['ES256', ecdsa('sha256', 'prime256v1', 64)],
  ['ES384', ecdsa('sha384', 'secp384r1', 96)],
  ['ES512', ecdsa('sha512', 'secp521r1', 132)],
  ['EdDSA', ed25519],
  ['Ed25519', ed25519],
])

const hmacDigests: ReadonlyMap<string, Digest> = new Map([
  ['HS256', 'sha256'],
  ['HS384', 'sha384'],
  ['HS512', 'sha512'],
])

/**
 * The public key jose chose for a token (a `CryptoKey` from its JWKS import), as a node:crypto
 * `KeyObject` bound to the token's algorithm. Made once per key and algorithm (lib/memoized-keys.ts
 * remembers it), so the per-token check is one `crypto.verify`.
 *
 * The key must suit the algorithm, as jose requires of the `CryptoKey` it verifies with: an RSA key of
 * 2048 bits or more for RS* and PS*, an EC key on the algorithm's curve for ES*, an Ed25519 key for
 * EdDSA. jose's JWKS selection only hands over keys of the algorithm's type and curve; the one it lets
 * through is an RSA modulus under 2048 bits that still spells 256 bytes, which jose then refuses with a
 * `TypeError` at verification: so does this key, at its first use.
 */
export function signatureKey(alg: string, key: CryptoKey | JoseKeyObject | JWK | Uint8Array): SignatureKey {
  const scheme = schemes.get(alg)
  if (scheme === undefined) throw new TypeError(`"${alg}" is not an asymmetric JWS algorithm`)
  const object = toKeyObject(key)
  const unfit = unfitFor(alg, scheme, object)
  if (unfit !== undefined) {
    return {
      verify() {
        throw unfit
      },
    }
  }
  const input: VerifyKeyObjectInput = { key: object, ...scheme.options }
  const { digest, signatureBytes } = scheme
  return {
    verify(data, signature) {
      if (signatureBytes !== undefined && signature.length !== signatureBytes) return false
      try {
        return verify(digest, data, input, signature)
      } catch {
        // jose reports a check that throws as a bad signature, never as an error of ours.
        return false
      }
    },
  }
}

/**
 * A shared secret for one HMAC algorithm (RFC 7518 §3.2): the MAC of the input, compared in constant time
 * with the signature. Made per token, since a secret getter may rotate the secret between tokens.
 */
export function hmacKey(alg: string, secret: Uint8Array): SignatureKey {
  const digest = hmacDigests.get(alg)
  if (digest === undefined) throw new TypeError(`"${alg}" is not an HMAC JWS algorithm`)
  return {
    verify(data, signature) {
      const mac = createHmac(digest, secret).update(data).digest()
      return mac.length === signature.length && timingSafeEqual(mac, signature)
    },
  }
}

function toKeyObject(key: CryptoKey | JoseKeyObject | JWK | Uint8Array): KeyObject {
  if (key instanceof KeyObject) return key
  if (key instanceof Uint8Array) throw new TypeError('a shared secret cannot verify an asymmetric algorithm')
  if ((key as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'CryptoKey') {
    return KeyObject.from(key as Parameters<typeof KeyObject.from>[0])
  }
  // As jose, a private JWK is refused rather than reduced to its public half.
  if ('d' in key) throw new TypeError('a private JSON Web Key cannot verify a signature')
  return createPublicKey({ key: key as JsonWebKey, format: 'jwk' })
}

function unfitFor(alg: string, scheme: Scheme, key: KeyObject): TypeError | undefined {
  if (key.type !== 'public') return new TypeError(`${alg} verification requires a public key`)
  if (key.asymmetricKeyType !== scheme.keyType) {
    return new TypeError(`${alg} verification requires a key of type "${scheme.keyType}"`)
  }
  const details = key.asymmetricKeyDetails ?? {}
  if (scheme.keyType === 'rsa' && !((details.modulusLength ?? 0) >= 2048)) {
    return new TypeError(`${alg} requires key modulusLength to be 2048 bits or larger`)
  }
  if (scheme.curve !== undefined && details.namedCurve !== scheme.curve) {
    return new TypeError(`${alg} verification requires a key on curve "${scheme.curve}"`)
  }
  return undefined
}
