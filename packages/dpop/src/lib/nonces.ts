import { createHmac, timingSafeEqual } from 'node:crypto'

/** The secret stateless nonces are made with, or a getter of the current one (for rotation). */
export type NonceSecret = string | Uint8Array | (() => string | Uint8Array)

/** What a proof's nonce is worth. */
export type NonceCheck = 'current' | 'previous' | 'stale' | 'invalid'

const stepBytes = 6
const macBytes = 16
const nonceLength = Math.ceil(((stepBytes + macBytes) * 4) / 3)

/**
 * Stateless DPoP nonces (RFC 9449 §8): the time step and an HMAC of it, so every replica that shares the
 * secret accepts the nonces of the others without shared state. A nonce is good during its step and the
 * next one; during the next one the server offers a fresh nonce on the response.
 */
export class StatelessNonces {
  readonly #secret: () => Uint8Array
  readonly #lifetimeMs: number
  #cache: { step: number; secret: Uint8Array; nonce: string } | undefined
  #headers: Readonly<Record<string, string>> = Object.freeze({ 'DPoP-Nonce': '' })

  constructor(secret: NonceSecret, lifetimeSeconds: number) {
    this.#secret = secretGetter(secret)
    this.#lifetimeMs = lifetimeSeconds * 1000
    // Fail at construction, not on the first request, when the secret is unusable.
    this.#secret()
  }

  /** The nonce of the current time step. */
  current(now = Date.now()): string {
    const step = Math.floor(now / this.#lifetimeMs)
    const secret = this.#secret()
    const cache = this.#cache
    if (cache !== undefined && cache.step === step && cache.secret === secret) return cache.nonce
    const nonce = make(secret, step)
    this.#cache = { step, secret, nonce }
    return nonce
  }

  /**
   * The `DPoP-Nonce` header of the current nonce: one frozen object per nonce period, not one per request.
   * Browser clients read it across origins only when a CORS layer lists it in
   * `Access-Control-Expose-Headers`, which the adapters merge.
   */
  headers(now = Date.now()): Readonly<Record<string, string>> {
    const nonce = this.current(now)
    if (this.#headers['DPoP-Nonce'] !== nonce) this.#headers = Object.freeze({ 'DPoP-Nonce': nonce })
    return this.#headers
  }

  /** Checks a nonce a proof carries. */
  check(nonce: string, now = Date.now()): NonceCheck {
    if (nonce.length !== nonceLength) return 'invalid'
    const bytes = Buffer.from(nonce, 'base64url')
    if (bytes.length !== stepBytes + macBytes || bytes.toString('base64url') !== nonce) return 'invalid'
    const step = bytes.readUIntBE(0, stepBytes)
    const expected = mac(this.#secret(), step)
    if (!timingSafeEqual(expected, bytes.subarray(stepBytes))) return 'invalid'
    const currentStep = Math.floor(now / this.#lifetimeMs)
    if (step === currentStep) return 'current'
    if (step === currentStep - 1) return 'previous'
    return 'stale'
  }
}

function make(secret: Uint8Array, step: number): string {
  const bytes = Buffer.alloc(stepBytes + macBytes)
  bytes.writeUIntBE(step, 0, stepBytes)
  mac(secret, step).copy(bytes, stepBytes)
  return bytes.toString('base64url')
}

function mac(secret: Uint8Array, step: number): Buffer {
  return createHmac('sha256', secret).update(`dpop-nonce.${step}`).digest().subarray(0, macBytes)
}

/** Shortest nonce secret, in bytes: the HMAC-SHA-256 key length RFC 2104 §3 recommends. */
const minSecretBytes = 32

function secretGetter(secret: NonceSecret): () => Uint8Array {
  const toBytes = (value: unknown): Uint8Array => {
    const bytes =
      typeof value === 'string' ? Buffer.from(value) : value instanceof Uint8Array ? value : undefined
    if (bytes === undefined || bytes.length < minSecretBytes) {
      throw new TypeError(`dpop: "nonce.secret" option must be at least ${minSecretBytes} bytes`)
    }
    return bytes
  }
  if (typeof secret !== 'function') {
    const fixed = toBytes(secret)
    return () => fixed
  }
  // A getter (a rotated secret from @zerotrust/secrets): remember the bytes of the last value seen.
  let last: unknown
  let lastBytes: Uint8Array | undefined
  return () => {
    const value = secret()
    if (value !== last || lastBytes === undefined) {
      lastBytes = toBytes(value)
      last = value
    }
    return lastBytes
  }
}
