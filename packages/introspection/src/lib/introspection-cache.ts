import { hash } from 'node:crypto'
import type { Auth, ZeroTrustError } from '@zerotrust/core'
import { LRUCache } from 'lru-cache'

/** What one introspection decided: an `Auth`, or the rejection of the token. */
export type Outcome =
  | {
      readonly auth: Auth
      /** Whether the token is bound to a key or certificate (`cnf`, or `token_type: "DPoP"`). */
      readonly bound: boolean
      readonly error?: undefined
    }
  | { readonly auth?: undefined; readonly bound?: undefined; readonly error: ZeroTrustError }

interface Entry {
  /** The SHA-256 of the token: the entry serves only a token with this very hash. */
  readonly key: string
  readonly outcome: Outcome
  /** Milliseconds since the epoch after which the entry must not serve. */
  readonly expiresAt: number
}

/** Bounds of {@link IntrospectionCache}. */
export interface CacheSettings {
  /** Most active answers kept. */
  readonly max: number
  /** Seconds. */
  readonly maxTtl: number
  /** Seconds. */
  readonly inactiveTtl: number
  /** Most rejections kept. */
  readonly inactiveMax: number
}

/**
 * The key of a token: base64url SHA-256, so the cache never holds a usable token and a long token costs
 * a short key. Node's one-shot `hash` avoids the `Hash` object of `createHash`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-4
 */
export function tokenKey(token: string): string {
  return hash('sha256', token, 'base64url')
}

/**
 * Introspection outcomes by token hash, plus the introspections in flight, so that concurrent requests
 * with one token share one call to the endpoint. Accepted tokens and rejected ones are kept in two
 * bounded LRUs: a flood of random tokens (each one a rejection) turns over the second only, and cannot
 * evict the answers that serve real callers without a round trip.
 */
export class IntrospectionCache {
  readonly #settings: CacheSettings | undefined
  readonly #active: LRUCache<string, Entry> | undefined
  readonly #inactive: LRUCache<string, Entry> | undefined
  readonly #pending = new Map<string, Promise<Outcome>>()

  constructor(settings: CacheSettings | undefined) {
    this.#settings = settings
    this.#active =
      settings === undefined ? undefined : new LRUCache({ max: settings.max, ttlAutopurge: false })
    this.#inactive =
      settings === undefined || settings.inactiveTtl === 0
        ? undefined
        : new LRUCache({ max: settings.inactiveMax, ttlAutopurge: false })
  }

  /** The cached outcome of the token with this key, if it is still fresh. No I/O. */
  get(key: string): Outcome | undefined {
    const entry = this.#active?.get(key) ?? this.#inactive?.get(key)
    // The entry's TTL already ends in time; the wall-clock check also holds if timers and clock disagree.
    return entry !== undefined && entry.key === key && entry.expiresAt > Date.now()
      ? entry.outcome
      : undefined
  }

  /**
   * The outcome of `work` for this key; while one is in flight every caller with the key gets it. A
   * thrown error (the endpoint failed) is shared but never cached.
   */
  share(key: string, work: () => Promise<Outcome>): Promise<Outcome> {
    const inFlight = this.#pending.get(key)
    if (inFlight !== undefined) return inFlight
    const pending = work().then((outcome) => {
      this.#store(key, outcome)
      return outcome
    })
    this.#pending.set(key, pending)
    const forget = () => {
      this.#pending.delete(key)
    }
    pending.then(forget, forget)
    return pending
  }

  #store(key: string, outcome: Outcome): void {
    const settings = this.#settings
    if (settings === undefined) return
    const now = Date.now()
    // An entry in the other LRU is stale: the endpoint was just asked because it no longer served.
    this.#active?.delete(key)
    this.#inactive?.delete(key)
    let until: number
    let entries: LRUCache<string, Entry> | undefined
    if (outcome.auth === undefined) {
      until = now + settings.inactiveTtl * 1000
      entries = this.#inactive
    } else {
      // RFC 7662 §4: never past the token's `exp`, and at most `maxTtl` (a revocation shows after that).
      until = now + settings.maxTtl * 1000
      const exp = outcome.auth.expiresAt
      if (exp !== undefined) until = Math.min(until, exp * 1000)
      entries = this.#active
    }
    const ttl = Math.floor(until - now)
    if (ttl > 0) entries?.set(key, { key, outcome, expiresAt: until }, { ttl })
  }
}
