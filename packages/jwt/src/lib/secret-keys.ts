import { ZeroTrustError } from '@zerotrust/core'
import { minimumSecretBytes } from './algorithms.js'
import type { JoseHeader } from './jws.js'
import type { SecretInput } from './options.js'
import { hmacKey, type SignatureKey } from './signature.js'

const encoder = new TextEncoder()

/**
 * The HMAC keys of a shared secret (RFC 7518 §3.2): a fixed secret makes one key per algorithm, kept; a
 * getter is asked for every token, so a rotated secret verifies from the next token on.
 */
export class SecretKeys {
  readonly #secret: SecretInput
  readonly #fixed: Map<string, SignatureKey> | undefined

  constructor(secret: SecretInput) {
    this.#secret = secret
    this.#fixed = typeof secret === 'function' ? undefined : new Map()
  }

  /** A shared secret has one generation: a token it verified stays verified until the cache lets it go. */
  generation(): number {
    return 0
  }

  keyFor(header: JoseHeader): SignatureKey | Promise<SignatureKey> {
    const { alg } = header
    const fixed = this.#fixed
    if (fixed !== undefined) {
      let key = fixed.get(alg)
      if (key === undefined) {
        key = hmacKey(alg, checkedSecret(alg, toBytes(this.#secret as string | Uint8Array)))
        fixed.set(alg, key)
      }
      return key
    }
    return this.#current(alg)
  }

  async #current(alg: string): Promise<SignatureKey> {
    let value: string | Uint8Array
    try {
      value = await (this.#secret as Extract<SecretInput, (...args: never[]) => unknown>)()
    } catch (cause) {
      // The secret store is down: a dependency outage (503), not a bad token.
      throw new ZeroTrustError('dependency_unavailable', 'the verification secret is unavailable', {
        reason: 'secret_unavailable',
        cause,
      })
    }
    return hmacKey(alg, checkedSecret(alg, toBytes(value)))
  }
}

function checkedSecret(alg: string, bytes: Uint8Array): Uint8Array {
  const needed = minimumSecretBytes[alg as keyof typeof minimumSecretBytes] ?? 0
  if (bytes.byteLength < needed) {
    throw new ZeroTrustError('internal_error', 'the configured HMAC secret is too short', {
      reason: 'secret_too_short',
    })
  }
  return bytes
}

function toBytes(value: string | Uint8Array): Uint8Array {
  if (typeof value === 'string') return encoder.encode(value)
  if (value instanceof Uint8Array) return value
  throw new ZeroTrustError('internal_error', 'the configured HMAC secret is not a string or Uint8Array', {
    reason: 'secret_invalid',
  })
}
