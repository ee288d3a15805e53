/**
 * Remembers one-time identifiers (DPoP proof `jti`s) for a window, so a second use is caught, across
 * every replica that shares the store.
 *
 * `@zerotrust/dpop` ships a bounded in-memory store; `@zerotrust/redis` one for fleets of replicas.
 */
export interface ReplayStore {
  /**
   * Records `key` for `ttlMs` milliseconds, atomically: resolves `true` when the key was not seen within
   * its window (this use is the first), `false` when it was (a replay).
   *
   * Rejects (or throws) when the store cannot answer; callers then fail closed with a 503. A store must
   * never forget a live key to make room: refusing is safer than letting a replay through.
   */
  claim(key: string, ttlMs: number): boolean | Promise<boolean>
}

/** A response kept for replay: what the handler sent, after the header allowlist. */
export interface StoredResponse {
  readonly status: number
  /** Header names in lower case; a repeated header keeps every value in order. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  readonly body: Uint8Array
}

/** What {@link IdempotencyStore.claim} found for a key. */
export type IdempotencyClaim =
  /** The key was free: the caller now holds it as `owner` until it completes, releases, or the lock expires. */
  | { readonly state: 'claimed'; readonly owner: string }
  /** Another request holds the key and has not finished; `fingerprint` is that request's. */
  | { readonly state: 'in_flight'; readonly fingerprint: string }
  /** A request with this key finished; its response is kept for replay. */
  | { readonly state: 'completed'; readonly fingerprint: string; readonly response: StoredResponse }
  /**
   * The key is free but the store will not take a new claim now, and nothing was written: `caller_quota`
   * when the caller named in {@link IdempotencyClaimOptions.caller} holds its share of the store (the
   * layer answers 429 to that caller only), `store_full` when the whole store is full (503).
   * `retryAfterMs` is when room is next expected: the earliest moment one of the entries in the way
   * expires or may be evicted, never a constant.
   */
  | {
      readonly state: 'refused'
      readonly reason: 'caller_quota' | 'store_full'
      readonly retryAfterMs: number
    }

/** What a layer tells {@link IdempotencyStore.claim} beyond the key. */
export interface IdempotencyClaimOptions {
  /**
   * Who the key belongs to, as an opaque string (the idempotency layer passes a SHA-256 digest of the
   * authenticated caller, so no identity is readable in the store): a store with per-caller quotas counts
   * the claims and stored bytes of each caller against it and refuses only the caller over its share.
   * Absent, the claim counts against no caller.
   */
  readonly caller?: string
}

/**
 * Where `Idempotency-Key` claims and stored responses live. `@zerotrust/idempotency` ships a bounded
 * in-memory store; `@zerotrust/redis` one for fleets of replicas.
 *
 * Every method is atomic. Every method rejects when the store cannot answer, and then has changed
 * nothing the next call could misread (callers fail closed with a 503).
 */
export interface IdempotencyStore {
  /**
   * Claims `key` for a new request with `fingerprint`, for at most `lockTtlMs` (how long a crashed
   * holder keeps others out), or reports who has it. A store that bounds what one caller may hold
   * answers `refused` with reason `caller_quota` to the `options.caller` over its share; a key already
   * held or completed is reported as such whatever the quota, so a retry always gets its replay. A store
   * may ignore `options` (third-party stores written before it existed do).
   */
  claim(
    key: string,
    fingerprint: string,
    lockTtlMs: number,
    options?: IdempotencyClaimOptions,
  ): Promise<IdempotencyClaim>
  /**
   * Stores the response of the request that claimed `key` as `owner`, kept for `retentionMs`. Resolves
   * `false`, writing nothing, when `owner` no longer holds the key (its lock expired and another request
   * claimed it).
   */
  complete(key: string, owner: string, response: StoredResponse, retentionMs: number): Promise<boolean>
  /**
   * Frees `key` held by `owner` so a retry runs the request again (after a 5xx, a thrown error, or a
   * response too large to keep). Resolves `false`, changing nothing, when `owner` no longer holds it.
   */
  release(key: string, owner: string): Promise<boolean>
  /**
   * Renews the claim `owner` holds on `key`: its lock now expires `lockTtlMs` from now. Resolves
   * `false`, changing nothing, when `owner` no longer holds the pending claim (its lock expired, another
   * request claimed the key, or it completed or released it); a completed key is never extended.
   *
   * Optional: the layer calls it every third of the lock TTL while the handler runs, so a handler that
   * outlives the lock TTL keeps its key. With a store that lacks it, a handler must finish within the
   * lock TTL, or a retry may run it a second time.
   */
  extend?(key: string, owner: string, lockTtlMs: number): Promise<boolean>
}
