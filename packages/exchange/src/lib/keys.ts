import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  type SignKeyObjectInput,
  sign,
} from 'node:crypto'
import { ZeroTrustError } from '@zerotrust/core'
import type { PrivateKeyMaterial, SigningAlgorithm, SigningKeySource } from './options.js'

/** A key ready to sign internal tokens. */
export interface SigningKey {
  readonly alg: SigningAlgorithm
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string
  /** base64url of the JWS protected header `{ alg, kid, typ: 'at+jwt' }`, followed by `.`. */
  readonly headerPrefix: string
  /** The public JWK as published: `kty`, curve or modulus, `kid`, `alg`, `use: 'sig'`. */
  readonly publicJwk: Readonly<JsonWebKey>
  sign(input: string): Buffer
}

/** A JSON Web Key Set as published (RFC 7517 §5). */
export interface JsonWebKeySet {
  readonly keys: readonly Readonly<JsonWebKey>[]
}

/** Most replaced keys kept published at once, however often the secret rotates. */
const maxPreviousKeys = 4

interface Retired {
  readonly key: SigningKey
  /** Seconds since the epoch after which it is no longer published. */
  readonly until: number
}

/**
 * The signing key of a {@link SigningKeySource} and the keys it replaced: the current key signs; a
 * replaced one stays published until every token it signed has expired (`overlap` seconds).
 */
export class KeyRing {
  readonly #source: SigningKeySource
  readonly #algorithm: SigningAlgorithm | undefined
  readonly #overlap: number
  readonly #onError: ((error: Error) => void) | undefined
  #material: PrivateKeyMaterial
  #current: SigningKey
  /** A value that failed to import: not tried again on every mint. */
  #refused: PrivateKeyMaterial | undefined
  #retired: Retired[] = []
  #jwks: JsonWebKeySet | undefined
  readonly #stop: (() => void) | undefined

  /** @throws TypeError when the source's first value is not a usable private key */
  constructor(
    source: SigningKeySource,
    algorithm: SigningAlgorithm | undefined,
    overlap: number,
    onError: ((error: Error) => void) | undefined,
  ) {
    this.#source = source
    this.#algorithm = algorithm
    this.#overlap = overlap
    this.#onError = onError
    this.#material = source.current()
    try {
      this.#current = importSigningKey(this.#material, algorithm)
    } catch (error) {
      throw new TypeError(`internalTokens: "keys" option must hold a private signing key: ${describe(error)}`)
    }
    this.#stop = source.onRotate?.(() => {
      this.#refresh()
    })
  }

  /** The key to sign with now, after taking up a rotated value of the source. */
  current(): SigningKey {
    this.#refresh()
    return this.#current
  }

  /** The published keys: the current one first, then the replaced ones still within their overlap. */
  jwks(): JsonWebKeySet {
    this.#refresh()
    const now = Date.now() / 1000
    if (this.#retired.length > 0 && (this.#retired[0] as Retired).until <= now) {
      this.#retired = this.#retired.filter((retired) => retired.until > now)
      this.#jwks = undefined
    }
    this.#jwks ??= Object.freeze({
      keys: Object.freeze([
        this.#current.publicJwk,
        ...this.#retired.map((retired) => retired.key.publicJwk),
      ]),
    })
    return this.#jwks
  }

  close(): void {
    this.#stop?.()
  }

  #refresh(): void {
    let material: PrivateKeyMaterial
    try {
      material = this.#source.current()
    } catch (error) {
      // The secret's source has failed past its staleness bound: signing on with a key the operator may
      // have revoked would not be failing closed.
      throw new ZeroTrustError(
        'dependency_unavailable',
        'the signing key of internal tokens is unavailable',
        {
          reason: 'signing_key_unavailable',
          cause: error,
        },
      )
    }
    if (material === this.#material || material === this.#refused) return
    let next: SigningKey
    try {
      next = importSigningKey(material, this.#algorithm)
    } catch (error) {
      this.#refused = material
      this.#onError?.(
        new ZeroTrustError(
          'dependency_unavailable',
          'a rotated signing key cannot sign; the previous key signs on',
          {
            reason: 'signing_key_invalid',
            cause: error,
          },
        ),
      )
      return
    }
    this.#material = material
    this.#refused = undefined
    if (next.kid === this.#current.kid) return
    const until = Date.now() / 1000 + this.#overlap
    this.#retired = [
      { key: this.#current, until },
      ...this.#retired.filter((retired) => retired.key.kid !== next.kid),
    ].slice(0, maxPreviousKeys)
    this.#current = next
    this.#jwks = undefined
  }
}

interface Scheme {
  readonly digest: 'sha256' | 'sha384' | 'sha512' | null
  readonly options: Omit<SignKeyObjectInput, 'key'>
}

const schemes: Readonly<Record<SigningAlgorithm, Scheme>> = {
  // RFC 7518 §3.4: r || s of fixed length, not DER.
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { digest: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { digest: 'sha512', options: { dsaEncoding: 'ieee-p1363' } },
  // RFC 8037 §3.1: Ed25519 hashes internally.
  EdDSA: { digest: null, options: {} },
  RS256: { digest: 'sha256', options: {} },
  // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
  PS256: {
    digest: 'sha256',
    options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
  },
}

const curveAlgorithms: Readonly<Record<string, SigningAlgorithm>> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
}

/**
 * Imports a PEM or JWK private key once, picks (or checks) its algorithm and precomputes its header.
 *
 * @throws TypeError when the key is not a private key fit for `algorithm`
 */
export function importSigningKey(
  material: PrivateKeyMaterial | KeyObject,
  algorithm: SigningAlgorithm | undefined,
): SigningKey {
  const key = toPrivateKey(material)
  const alg = algorithmOf(key, algorithm)
  const scheme = schemes[alg]
  const jwk = createPublicKey(key).export({ format: 'jwk' })
  const kid = thumbprint(jwk)
  const publicJwk = Object.freeze({ ...jwk, kid, alg, use: 'sig' })
  const header = Buffer.from(JSON.stringify({ alg, kid, typ: 'at+jwt' })).toString('base64url')
  const input: SignKeyObjectInput = { key, ...scheme.options }
  return Object.freeze({
    alg,
    kid,
    headerPrefix: `${header}.`,
    publicJwk,
    // The signing input is base64url text (ASCII): latin1 is its bytes, and the quickest to write.
    sign: (data: string) => sign(scheme.digest, Buffer.from(data, 'latin1'), input),
  })
}

function toPrivateKey(material: PrivateKeyMaterial | KeyObject): KeyObject {
  if (typeof material === 'string') {
    if (material.length > 16_384) throw new TypeError('the PEM is longer than 16384 characters')
    return createPrivateKey({ key: material, format: 'pem' })
  }
  if (typeof material === 'object' && material !== null && (material as KeyObject).type === 'private') {
    return material as KeyObject
  }
  if (
    typeof material === 'object' &&
    material !== null &&
    typeof (material as { d?: unknown }).d === 'string'
  ) {
    return createPrivateKey({ key: material as JsonWebKey, format: 'jwk' })
  }
  throw new TypeError('a PEM or a private JWK is expected')
}

function algorithmOf(key: KeyObject, wanted: SigningAlgorithm | undefined): SigningAlgorithm {
  const type = key.asymmetricKeyType
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? ''
    const alg = curveAlgorithms[curve]
    if (alg === undefined) throw new TypeError(`the curve "${curve}" is not supported`)
    if (wanted !== undefined && wanted !== alg) throw new TypeError(`a ${alg} key cannot sign ${wanted}`)
    return alg
  }
  if (type === 'ed25519') {
    if (wanted !== undefined && wanted !== 'EdDSA')
      throw new TypeError(`an Ed25519 key cannot sign ${wanted}`)
    return 'EdDSA'
  }
  if (type === 'rsa') {
    // RFC 7518 §3.3: 2048 bits or more.
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
      throw new TypeError('an RSA key needs 2048 bits')
    if (wanted !== undefined && wanted !== 'RS256' && wanted !== 'PS256') {
      throw new TypeError(`an RSA key cannot sign ${wanted}`)
    }
    return wanted ?? 'RS256'
  }
  throw new TypeError(`a "${String(type)}" key cannot sign JWTs`)
}

/** RFC 7638 §3.2: the required members in lexicographic order, no whitespace, SHA-256, base64url. */
export function thumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'OKP'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
        : { e: jwk.e, kty: jwk.kty, n: jwk.n }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

function describe(error: unknown): string {
  return error instanceof TypeError ? error.message : 'it could not be read'
}
