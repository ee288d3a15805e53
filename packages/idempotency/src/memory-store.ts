import { randomUUID } from 'node:crypto'
import {
  type IdempotencyClaim,
  type IdempotencyClaimOptions,
  type IdempotencyStore,
  type StoredResponse,
  ZeroTrustError,
} from '@zerotrust/core'
import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
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
  /**
   * Most keys one caller holds, in flight and completed together; a tenth of `maxEntries` by default
   * (1 000). A caller at its share first makes room from its own responses older than `minRetention`;
   * when none may go, its new claims are refused with 429 and `Retry-After`, and other callers are not
   * touched. The caller is the one the layer names (its authenticated identity); claims that name none
   * count against no share.
   */
  readonly maxEntriesPerCaller?: number
  /**
   * Most bytes of stored responses one caller holds; a tenth of `maxBytes` by default (6.4 MiB). A caller
   * at it gets 429 on new claims, and a response that would take it past the share is not stored (as a
   * response the store has no room for), after its own responses older than `minRetention` made what
   * room they can.
   */
  readonly maxBytesPerCaller?: number
}

interface Share {
  readonly caller: string
  /** The caller's locks, in claim (and renewal) order: with one lock TTL, soonest expiry first. */
  readonly locks: Map<string, Lock>
  /** The caller's responses, in completion order: the oldest first. */
  readonly done: Map<string, Done>
  bytes: number
}

interface Lock {
  readonly fingerprint: string
  readonly owner: string
  readonly expiresAt: number
  readonly share: Share | undefined
}

interface Done {
  readonly fingerprint: string
  readonly response: StoredResponse
  readonly expiresAt: number
  /** When it may go to make room: at its expiry, or once older than `minRetention`, whichever is first. */
  readonly evictableAt: number
  readonly size: number
  readonly share: Share | undefined
}

/** The locks and responses of the store, or of one caller. */
interface Entries {
  readonly locks: Map<string, Lock>
  readonly done: Map<string, Done>
}

/** A refused claim: what the layer turns into 429 (`caller_quota`) or 503 (`store_full`). */
type Refusal = Extract<IdempotencyClaim, { state: 'refused' }>

// When full, the whole store is swept for expired entries at most this often, not on every refused
// claim: a flood of refused claims then costs a few map lookups each, whatever `maxEntries` is (issue 23).
const fullSweepInterval = 1000
// Expired entries dropped from the head of each map on every claim: amortizes expiry without a timer.
const headDropsPerCall = 8
// Callers are named by the layer with a digest; a longer name is a programming error, not a request.
const maxCallerLength = 512

const defaultMaxBytes = 64 * 1024 * 1024

const schema = z
  .strictObject(
    {
      maxEntries: option.positiveInteger().optional(),
      maxBytes: option.positiveInteger().optional(),
      minRetention: option.milliseconds().optional(),
      maxEntriesPerCaller: option.positiveInteger().optional(),
      maxBytesPerCaller: option.positiveInteger().optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine((options, context) => {
    const bounds = [
      ['maxEntriesPerCaller', 'maxEntries', options.maxEntriesPerCaller, options.maxEntries ?? 10_000],
      ['maxBytesPerCaller', 'maxBytes', options.maxBytesPerCaller, options.maxBytes ?? defaultMaxBytes],
    ] as const
    for (const [name, total, value, limit] of bounds) {
      if (value !== undefined && value > limit) {
        context.addIssue({ code: 'custom', path: [name], message: `must be at most "${total}" (${limit})` })
      }
    }
  }) satisfies OptionsSchema<MemoryIdempotencyStoreOptions>

/**
 * A bounded in-memory {@link IdempotencyStore} for one process (a fleet of replicas needs
 * `redisIdempotencyStore` of `@zerotrust/redis`). Locks and responses expire with their TTLs. When
 * full, it drops expired entries, then evicts the oldest completed responses older than `minRetention`,
 * and never a lock in flight nor a younger response: a new claim is then refused (the layer answers 503
 * with the `Retry-After` of the first entry that may go) rather than letting a retry run its handler a
 * second time. Each caller the layer names holds at most `maxEntriesPerCaller` keys and
 * `maxBytesPerCaller` bytes: past its share, it makes room from its own older responses or is refused
 * (429), so one caller cannot fill the store for the others. A refused claim costs a few map lookups,
 * whatever the store holds: expired entries go from the head of each map as claims come, and the whole
 * store is swept at most once a second. `complete`, `release` and `extend` (the layer's lock renewal)
 * take effect only for the owner that holds the key.
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
  const maxBytes = parsed.maxBytes ?? defaultMaxBytes
  const minRetention = parsed.minRetention ?? 10 * 60_000
  const maxEntriesPerCaller = parsed.maxEntriesPerCaller ?? Math.max(1, Math.floor(maxEntries / 10))
  const maxBytesPerCaller = parsed.maxBytesPerCaller ?? Math.max(1, Math.floor(maxBytes / 10))
  // Insertion order is claim (and renewal) order: with one lock TTL, the first lock expires first.
  const locks = new Map<string, Lock>()
  // Insertion order is completion order: the first entry is the oldest response, evicted first.
  const done = new Map<string, Done>()
  const shares = new Map<string, Share>()
  const store: Entries = { locks, done }
  let bytes = 0
  let lastFullSweep = Number.NEGATIVE_INFINITY

  const forgetIfEmpty = (share: Share) => {
    if (share.locks.size === 0 && share.done.size === 0) shares.delete(share.caller)
  }
  const dropLock = (key: string, lock: Lock) => {
    locks.delete(key)
    if (lock.share === undefined) return
    lock.share.locks.delete(key)
    forgetIfEmpty(lock.share)
  }
  const dropDone = (key: string, entry: Done) => {
    done.delete(key)
    bytes -= entry.size
    if (entry.share === undefined) return
    entry.share.done.delete(key)
    entry.share.bytes -= entry.size
    forgetIfEmpty(entry.share)
  }
  // The oldest response of `from` (the store's, or one caller's) may go when it expired or is older
  // than `minRetention`; a younger one is never forgotten to make room.
  const evictOldestDone = (from: Map<string, Done>, now: number): boolean => {
    for (const [key, entry] of from) {
      if (entry.evictableAt > now) return false
      dropDone(key, entry)
      return true
    }
    return false
  }
  const dropExpiredLock = (from: Map<string, Lock>, now: number): boolean => {
    for (const [key, lock] of from) {
      if (lock.expiresAt > now) return false
      dropLock(key, lock)
      return true
    }
    return false
  }
  // Frees what may go from the head of `from` (the store, or one caller's share) while `full()`, then,
  // at most once an interval, sweeps the whole store. Whether there is room now.
  const makeRoom = (from: Entries, full: () => boolean, now: number): boolean => {
    while (full() && (evictOldestDone(from.done, now) || dropExpiredLock(from.locks, now))) {}
    if (full()) sweepAll(now)
    return !full()
  }
  // Bounded work per call: the heads of both maps are their oldest entries.
  const dropExpiredHeads = (now: number) => {
    let budget = headDropsPerCall
    for (const [key, lock] of locks) {
      if (lock.expiresAt > now || budget-- === 0) break
      dropLock(key, lock)
    }
    budget = headDropsPerCall
    for (const [key, entry] of done) {
      if (entry.expiresAt > now || budget-- === 0) break
      dropDone(key, entry)
    }
  }
  // Entries out of order (another layer's TTLs, renewals) are found here, at most once an interval.
  const sweepAll = (now: number) => {
    if (now - lastFullSweep < fullSweepInterval) return
    lastFullSweep = now
    for (const [key, lock] of locks) if (lock.expiresAt <= now) dropLock(key, lock)
    for (const [key, entry] of done) if (entry.expiresAt <= now) dropDone(key, entry)
  }
  const liveLock = (key: string, now: number): Lock | undefined => {
    const lock = locks.get(key)
    if (lock !== undefined && lock.expiresAt <= now) {
      dropLock(key, lock)
      return undefined
    }
    return lock
  }
  const storeFull = () => locks.size + done.size >= maxEntries
  const shareFull = (share: Share) =>
    share.locks.size + share.done.size >= maxEntriesPerCaller || share.bytes >= maxBytesPerCaller
  // Room comes when the first of these goes: the oldest response (at its expiry or past
  // `minRetention`) or, unless only bytes are short (a lock holds none), the first lock (at its expiry).
  const refusal = (reason: Refusal['reason'], from: Entries, now: number, bytesOnly = false): Refusal => {
    let at = Number.POSITIVE_INFINITY
    for (const entry of from.done.values()) {
      at = entry.evictableAt
      break
    }
    for (const lock of bytesOnly ? [] : from.locks.values()) {
      at = Math.min(at, lock.expiresAt)
      break
    }
    const retryAfterMs = Number.isFinite(at) ? Math.max(0, at - now) : minRetention
    return { state: 'refused', reason, retryAfterMs }
  }
  const shareFor = (caller: string): Share => {
    let share = shares.get(caller)
    if (share === undefined) {
      share = { caller, locks: new Map(), done: new Map(), bytes: 0 }
      shares.set(caller, share)
    }
    return share
  }

  return Object.freeze({
    async claim(
      key: string,
      fingerprint: string,
      lockTtlMs: number,
      claimOptions?: IdempotencyClaimOptions,
    ): Promise<IdempotencyClaim> {
      const caller = checkCaller(claimOptions)
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
      dropExpiredHeads(now)

      const share = caller === undefined ? undefined : shares.get(caller)
      // A caller over its share makes room from its own old responses, never from anyone else's.
      if (share !== undefined && !makeRoom(share, () => shareFull(share), now)) {
        const bytesOnly = share.locks.size + share.done.size < maxEntriesPerCaller
        return refusal('caller_quota', share, now, bytesOnly)
      }
      if (!makeRoom(store, storeFull, now)) return refusal('store_full', store, now)

      const owner = randomUUID()
      // The share may have been emptied and forgotten by the evictions above: look it up again.
      const holder = caller === undefined ? undefined : shareFor(caller)
      const claimed: Lock = { fingerprint, owner, expiresAt: now + lockTtlMs, share: holder }
      locks.set(key, claimed)
      holder?.locks.set(key, claimed)
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
      const { share } = lock
      if (share !== undefined) {
        const over = () => share.bytes + size > maxBytesPerCaller
        // A response larger than the whole share costs the caller none of its stored ones.
        if (size > maxBytesPerCaller || !makeRoom(share, over, now)) {
          // Sent but not stored, as a response the store has no room for: only this caller's own.
          throw new ZeroTrustError('rate_limited', 'the caller holds its share of the idempotency store', {
            reason: 'caller_quota',
            retryAfter: retryAfterSeconds(refusal('caller_quota', share, now, true).retryAfterMs),
          })
        }
      }
      if (!makeRoom(store, () => bytes + size > maxBytes, now)) {
        // Nothing old enough to forget: the response is sent but not stored, and no stored response of
        // another caller is lost.
        throw new Error(`the idempotency store is full: "maxBytes" of ${maxBytes} held within "minRetention"`)
      }
      locks.delete(key)
      share?.locks.delete(key)
      const entry: Done = {
        fingerprint: lock.fingerprint,
        response: copy,
        expiresAt: now + retentionMs,
        evictableAt: Math.min(now + retentionMs, now + minRetention),
        size,
        share,
      }
      done.set(key, entry)
      bytes += size
      if (share !== undefined) {
        share.done.set(key, entry)
        share.bytes += size
      }
      return true
    },

    async release(key: string, owner: string): Promise<boolean> {
      const lock = liveLock(key, Date.now())
      if (lock === undefined || lock.owner !== owner) return false
      dropLock(key, lock)
      return true
    },

    async extend(key: string, owner: string, lockTtlMs: number): Promise<boolean> {
      const now = Date.now()
      // A completed key holds no lock: `liveLock` finds none, and nothing is extended.
      const lock = liveLock(key, now)
      if (lock === undefined || lock.owner !== owner) return false
      const renewed: Lock = { ...lock, expiresAt: now + lockTtlMs }
      // Moved to the end: the maps stay in (near) expiry order, so their heads expire first.
      locks.delete(key)
      locks.set(key, renewed)
      lock.share?.locks.delete(key)
      lock.share?.locks.set(key, renewed)
      return true
    },
  })
}

/** Seconds for `Retry-After`: whole, rounded up, at least 1. */
function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

function checkCaller(options: IdempotencyClaimOptions | undefined): string | undefined {
  const caller = options?.caller
  if (caller === undefined) return undefined
  if (typeof caller !== 'string' || caller.length === 0 || caller.length > maxCallerLength) {
    throw new TypeError(`"caller" must be a non-empty string of at most ${maxCallerLength} characters`)
  }
  return caller
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
