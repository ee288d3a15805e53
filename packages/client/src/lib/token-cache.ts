// Tokens by key (audience, scope, resource, DPoP key), each fetched by one request however many callers
// wait, refreshed before it expires while callers go on using it, and served while still valid when a
// refresh fails (an issuer outage), until it expires.

/** An access token and how to present it. The token itself is not enumerable: logs do not show it. */
export interface AccessToken {
  /** The token; never log it. */
  readonly value: string
  /** `DPoP` for a token bound to a DPoP key (RFC 9449 §5), `Bearer` otherwise. */
  readonly type: 'Bearer' | 'DPoP'
  /** When it expires, in milliseconds since the epoch. */
  readonly expiresAt: number
}

/** Makes an {@link AccessToken} whose `value` is hidden from enumeration (JSON, console). */
export function accessToken(value: string, type: 'Bearer' | 'DPoP', expiresAt: number): AccessToken {
  const token = { type, expiresAt } as { value: string; type: 'Bearer' | 'DPoP'; expiresAt: number }
  Object.defineProperty(token, 'value', { value, enumerable: false })
  return Object.freeze(token)
}

/** Timing of the cache, all in milliseconds. */
export interface TokenTiming {
  /** How long before expiry a refresh starts. */
  readonly refreshBefore: number
  /** A random share of up to this much more, so replicas do not refresh together. */
  readonly refreshJitter: number
  /** After a failed refresh, how long a still-valid token is served before the next try. */
  readonly retryRefreshAfter: number
}

interface Entry {
  readonly token: AccessToken
  refreshAt: number
  /** Past this the token is not handed out: it could expire on its way. */
  readonly usableUntil: number
}

/**
 * @example
 * const token = await cache.get(key, () => requestToken(), signal)
 */
export class TokenCache {
  readonly #entries = new Map<string, Entry>()
  readonly #fetching = new Map<string, Promise<AccessToken>>()
  readonly #timing: TokenTiming
  readonly #maxEntries: number
  readonly #random: () => number

  constructor(timing: TokenTiming, maxEntries: number, random: () => number = Math.random) {
    this.#timing = timing
    this.#maxEntries = maxEntries
    this.#random = random
  }

  /**
   * The token of `key`: the cached one while it is fresh; the cached one while a refresh runs in the
   * background once it is due (or while the issuer fails, until it expires); otherwise the answer of the
   * one request in flight for `key`, which `signal` stops waiting for (the request itself goes on for
   * the other callers).
   */
  get(key: string, fetch: () => Promise<AccessToken>, signal?: AbortSignal): Promise<AccessToken> {
    const entry = this.#entries.get(key)
    if (entry !== undefined) {
      const now = Date.now()
      if (now < entry.refreshAt) return Promise.resolve(entry.token)
      if (now < entry.usableUntil) {
        this.#fetch(key, fetch)
        return Promise.resolve(entry.token)
      }
      this.#entries.delete(key)
    }
    return waitFor(this.#fetch(key, fetch), signal)
  }

  /** The token of `key` while it is fresh (not yet due for a refresh), without waiting; else `undefined`. */
  peek(key: string): AccessToken | undefined {
    const entry = this.#entries.get(key)
    return entry !== undefined && Date.now() < entry.refreshAt ? entry.token : undefined
  }

  /** Drops `token` if it is still the one cached (a service answered `invalid_token`). */
  invalidate(token: AccessToken): void {
    for (const [key, entry] of this.#entries) {
      if (entry.token === token || entry.token.value === token.value) this.#entries.delete(key)
    }
  }

  /**
   * Drops every cached token: the client certificate changed, and a token bound to the old one (RFC 8705
   * §3) would be refused with the new one.
   */
  clear(): void {
    this.#entries.clear()
  }

  #fetch(key: string, fetch: () => Promise<AccessToken>): Promise<AccessToken> {
    const running = this.#fetching.get(key)
    if (running !== undefined) return running
    const started = fetch().then(
      (token) => {
        this.#store(key, token)
        return token
      },
      (error: unknown) => {
        const entry = this.#entries.get(key)
        if (entry !== undefined) {
          entry.refreshAt = Math.min(entry.usableUntil, Date.now() + this.#timing.retryRefreshAfter)
        }
        throw error
      },
    )
    const settled = started.finally(() => this.#fetching.delete(key))
    // A background refresh has nobody waiting: its failure is already handled above (the old token
    // stands), so it must not surface as an unhandled rejection.
    settled.catch(() => {})
    this.#fetching.set(key, settled)
    return settled
  }

  #store(key: string, token: AccessToken): void {
    const now = Date.now()
    const lifetime = Math.max(0, token.expiresAt - now)
    // A token living less than the refresh margin is refreshed from its half-life on.
    const before = Math.min(this.#timing.refreshBefore, lifetime / 2)
    const jitter = this.#random() * Math.min(this.#timing.refreshJitter, lifetime / 4)
    // Never handed out in its last second (or last tenth of a short life): it would expire in flight.
    const margin = Math.min(1000, lifetime / 10)
    this.#entries.delete(key)
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    this.#entries.set(key, {
      token,
      refreshAt: token.expiresAt - before - jitter,
      usableUntil: token.expiresAt - margin,
    })
  }
}

/** `promise`, or the signal's abort reason as soon as it aborts. */
export function waitFor<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
