import { randomUUID } from 'node:crypto'
import {
  type IdempotencyClaim,
  type IdempotencyStore,
  parseOptions,
  type StoredResponse,
} from '@zerotrust/core'
import { z } from 'zod'

/** Options of {@link memoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** Most keys held, in flight and completed together; 10 000 by default. */
  readonly maxEntries?: number
  /** Most bytes of stored responses (bodies and headers); 64 MiB by default. */
  readonly maxBytes?: number
  /**
   * Milliseconds a completed response is safe from eviction to make room; 10 minutes by default. Within
   * it, a full store refuses new claims (503) rather than forget a response its caller may be retrying
   * for: a flood of new keys can then deny service, never make a handler run twice.
   */
  readonly minRetention?: number
}

interface Lock {
  readonly fingerprint: string
  readonly owner: string
  readonly expiresAt: number
}

interface Done {
  readonly fingerprint: string
  readonly completedAt: number
  readonly response: StoredResponse
  readonly expiresAt: number
  readonly size: number
}

const positiveInteger = z
  .number({ error: 'must be a positive integer' })
  .int({ error: 'must be a positive integer' })
  .min(1, { error: 'must be a positive integer' })

const schema = z
  .object(
    {
      maxEntries: positiveInteger.optional(),
      maxBytes: positiveInteger.optional(),
      minRetention: z
        .number({ error: 'must be a non-negative integer' })
        .int({ error: 'must be a non-negative integer' })
        .min(0, { error: 'must be a non-negative integer' })
        .optional(),
    },
    { error: 'must be an object' },
  )
  .strict()

/**
 * A bounded in-memory {@link IdempotencyStore} for one process (a fleet of replicas needs
 * `redisIdempotencyStore` of `@zerotrust/redis`). Locks and responses expire with their TTLs. When
 * full, it drops expired entries, then evicts the oldest completed responses older than `minRetention`,
 * and never a lock in flight nor a younger response: a new claim is then refused (the layer answers 503)
 * rather than letting a retry run its handler a second time. `complete`, `release` and `extend` (the
 * layer's lock renewal) take effect only for the owner that holds the key.
 *
 * @example
 * const writes = idempotency({ store: memoryIdempotencyStore({ maxEntries: 50_000 }) })
 * @throws TypeError naming the option when an option is invalid
 */
export function memoryIdempotencyStore(
  options: MemoryIdempotencyStoreOptions = {},
): Required<IdempotencyStore> {
  const parsed = parseOptions('memoryIdempotencyStore', schema, options)
  const maxEntries = parsed.maxEntries ?? 10_000
  const maxBytes = parsed.maxBytes ?? 64 * 1024 * 1024
  const minRetention = parsed.minRetention ?? 10 * 60_000
  const locks = new Map<string, Lock>()
  // Insertion order is completion order: the first entry is the oldest response, evicted first.
  const done = new Map<string, Done>()
  let bytes = 0

  const dropDone = (key: string, entry: Done) => {
    done.delete(key)
    bytes -= entry.size
  }
  // Completion order is insertion order: the first entry is the oldest response. It may go when it
  // expired, or when it is older than `minRetention`; a younger one is never forgotten to make room.
  const evictOldestDone = (now: number): boolean => {
    for (const [key, entry] of done) {
      if (entry.expiresAt > now && now - entry.completedAt < minRetention) return false
      dropDone(key, entry)
      return true
    }
    return false
  }
  const sweepDone = (now: number) => {
    for (const [key, entry] of done) if (entry.expiresAt <= now) dropDone(key, entry)
  }
  const liveLock = (key: string, now: number): Lock | undefined => {
    const lock = locks.get(key)
    if (lock !== undefined && lock.expiresAt <= now) {
      locks.delete(key)
      return undefined
    }
    return lock
  }
  const sweepLocks = (now: number) => {
    for (const [key, lock] of locks) if (lock.expiresAt <= now) locks.delete(key)
  }

  return Object.freeze({
    async claim(key: string, fingerprint: string, lockTtlMs: number): Promise<IdempotencyClaim> {
      const now = Date.now()
      const finished = done.get(key)
      if (finished !== undefined) {
        if (finished.expiresAt > now) {
          return { state: 'completed', fingerprint: finished.fingerprint, response: finished.response }
        }
        dropDone(key, finished)
      }
      const lock = liveLock(key, now)
      if (lock !== undefined) return { state: 'in_flight', fingerprint: lock.fingerprint }
      while (locks.size + done.size >= maxEntries && evictOldestDone(now)) {}
      if (locks.size + done.size >= maxEntries) {
        sweepLocks(now)
        sweepDone(now)
      }
      if (locks.size + done.size >= maxEntries) {
        throw new Error(
          `the idempotency store is full: ${maxEntries} keys are in flight or completed within "minRetention"`,
        )
      }
      const owner = randomUUID()
      locks.set(key, { fingerprint, owner, expiresAt: now + lockTtlMs })
      return { state: 'claimed', owner }
    },

    async complete(
      key: string,
      owner: string,
      response: StoredResponse,
      retentionMs: number,
    ): Promise<boolean> {
      const now = Date.now()
      const lock = liveLock(key, now)
      if (lock === undefined || lock.owner !== owner) return false
      const copy = freeze(response)
      const size = sizeOf(copy)
      if (size > maxBytes) {
        throw new Error(`the response is larger than the store's "maxBytes" of ${maxBytes}`)
      }
      while (bytes + size > maxBytes && evictOldestDone(now)) {}
      if (bytes + size > maxBytes) sweepDone(now)
      if (bytes + size > maxBytes) {
        // Nothing old enough to forget: the key is released by the layer and the retry runs; no stored
        // response of another caller is lost.
        throw new Error(`the idempotency store is full: "maxBytes" of ${maxBytes} held within "minRetention"`)
      }
      locks.delete(key)
      done.set(key, {
        fingerprint: lock.fingerprint,
        completedAt: now,
        response: copy,
        expiresAt: now + retentionMs,
        size,
      })
      bytes += size
      return true
    },

    async release(key: string, owner: string): Promise<boolean> {
      const lock = liveLock(key, Date.now())
      if (lock === undefined || lock.owner !== owner) return false
      locks.delete(key)
      return true
    },

    async extend(key: string, owner: string, lockTtlMs: number): Promise<boolean> {
      const now = Date.now()
      // A completed key holds no lock: `liveLock` finds none, and nothing is extended.
      const lock = liveLock(key, now)
      if (lock === undefined || lock.owner !== owner) return false
      locks.set(key, { ...lock, expiresAt: now + lockTtlMs })
      return true
    },
  })
}

function freeze(response: StoredResponse): StoredResponse {
  const headers: Record<string, string | readonly string[]> = {}
  for (const [name, value] of Object.entries(response.headers)) {
    headers[name] = typeof value === 'string' ? value : Object.freeze([...value])
  }
  return Object.freeze({
    status: response.status,
    headers: Object.freeze(headers),
    body: response.body.slice(),
  })
}

function sizeOf(response: StoredResponse): number {
  let size = response.body.byteLength
  for (const [name, value] of Object.entries(response.headers)) {
    size += name.length + (typeof value === 'string' ? value.length : value.join('').length)
  }
  return size
}
