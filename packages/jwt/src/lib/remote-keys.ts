import { ZeroTrustError } from '@zerotrust/core'
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose'
import { type FetchSettings, fetchJsonObject, unavailable } from './fetch-json.js'

/** Timing of a remote key set. */
export interface RemoteKeySettings extends FetchSettings {
  /** Milliseconds between refetches triggered by an unknown `kid`. */
  readonly cooldown: number
  /** Milliseconds after which keys are refreshed in the background (they keep serving meanwhile). */
  readonly maxAge: number
}

// After a failed fetch, wait this long before the next attempt, so an outage is not a fetch storm.
const failureBackoff = 1000

/**
 * The keys of one issuer, fetched from its JWKS URL (found by discovery when not configured):
 * - concurrent requests share one fetch;
 * - an unknown `kid` triggers a refetch at most once per cooldown (key rotation);
 * - after a failed fetch the next waits a second, so an outage is not a fetch storm;
 * - stale keys are refreshed in the background and keep serving while the issuer is down;
 * - with no usable key and an unreachable issuer, verification fails as `dependency_unavailable`
 *   (503), never as an invalid token.
 */
export class RemoteKeySet {
  readonly #resolveUrl: () => Promise<URL>
  readonly #settings: RemoteKeySettings
  #url: URL | undefined
  #keys: JWTVerifyGetKey | undefined
  #fetchedAt = Number.NEGATIVE_INFINITY
  #attemptedAt = Number.NEGATIVE_INFINITY
  #unknownKidAt = Number.NEGATIVE_INFINITY
  #failed = false
  #pending: Promise<void> | undefined
  #generation = 0

  constructor(resolveUrl: () => Promise<URL>, settings: RemoteKeySettings) {
    this.#resolveUrl = resolveUrl
    this.#settings = settings
  }

  /** A jose key resolver over this set. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.#keys === undefined) await this.#refreshUnlessBackingOff()
    else this.touch()
    const keys = this.#keys as JWTVerifyGetKey
    try {
      return await keys(header, token)
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw error
      // The key may be new (rotation): look again, at most once per cooldown.
      if (this.#pending !== undefined || performance.now() - this.#unknownKidAt >= this.#settings.cooldown) {
        // The cooldown starts when a fetch does: a refusal during the failure backoff must not use it up.
        if (this.#pending === undefined && !this.#backingOff()) this.#unknownKidAt = performance.now()
        await this.#refreshUnlessBackingOff()
        return (this.#keys as JWTVerifyGetKey)(header, token)
      }
      // We cannot tell an unknown key from a new one while the issuer is down.
      if (this.#failed) throw this.#unavailable('jwks_unavailable')
      throw error
    }
  }

  /** Changes after every successful fetch. */
  generation(): number {
    return this.#generation
  }

  /** Starts a background refresh when the keys are older than `maxAge`; they keep serving meanwhile. */
  touch(): void {
    if (performance.now() - this.#fetchedAt > this.#settings.maxAge && !this.#backingOff()) {
      this.#refresh().catch(() => {})
    }
  }

  #backingOff(): boolean {
    return this.#failed && performance.now() - this.#attemptedAt < failureBackoff
  }

  async #refreshUnlessBackingOff(): Promise<void> {
    if (this.#pending === undefined && this.#backingOff()) throw this.#unavailable('jwks_unavailable')
    await this.#refresh()
  }

  #refresh(): Promise<void> {
    this.#pending ??= this.#load().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #load(): Promise<void> {
    this.#attemptedAt = performance.now()
    try {
      this.#url ??= await this.#resolveUrl()
      const document = await fetchJsonObject(this.#url, this.#settings, 'jwks_unavailable')
      this.#keys = createLocalJWKSet(publicSigningKeys(document))
      this.#generation++
      this.#fetchedAt = performance.now()
      this.#failed = false
    } catch (error) {
      this.#failed = true
      throw error instanceof ZeroTrustError ? error : unavailable('jwks_invalid', error)
    }
  }

  #unavailable(reason: string): ZeroTrustError {
    const left = failureBackoff - (performance.now() - this.#attemptedAt)
    return unavailable(reason, undefined, Math.max(1, Math.ceil(left / 1000)))
  }
}

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

/**
 * The members of a JWKS usable to verify signatures: private and symmetric keys are dropped, so a
 * leaked private key or an `oct` key in the set can never be used as a verification secret, and so are
 * RSA keys under 2048 bits (RFC 7518 §3.3), which jose refuses at verification time.
 */
export function publicSigningKeys(document: Record<string, unknown>): JSONWebKeySet {
  const keys = document.keys
  if (!Array.isArray(keys)) throw unavailable('jwks_invalid', new Error('"keys" is not an array'))
  return {
    keys: keys.filter(
      (key): key is JSONWebKeySet['keys'][number] =>
        typeof key === 'object' &&
        key !== null &&
        typeof (key as { kty?: unknown }).kty === 'string' &&
        (key as { kty: string }).kty !== 'oct' &&
        privateMembers.every((member) => !Object.hasOwn(key, member)) &&
        !weakRsa(key as { kty: string; n?: unknown }),
    ),
  }
}

// RFC 7518 §3.3: RSA keys of 2048 bits or more; the modulus `n` is base64url, 4 characters per 3 bytes.
function weakRsa(key: { kty: string; n?: unknown }): boolean {
  return key.kty === 'RSA' && (typeof key.n !== 'string' || Math.floor((key.n.length * 3) / 4) < 256)
}
