import { randomUUID } from 'node:crypto'
import type {
  IdempotencyClaim,
  IdempotencyClaimOptions,
  IdempotencyStore,
  StoredResponse,
} from '@zerotrust/core'
import {
  checkCaller,
  type IdempotencyRefusal,
  type OptionsSchema,
  option,
  parseOptions,
  refusedClaimError,
  storedResponseSize,
} from '@zerotrust/core/layer'
import { z } from 'zod'
import { type Slot, TimeHeap } from './lib/time-heap.js'

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

// The maps find an entry by key; min-heaps of keys give the entry that may go first, whatever order the
// entries came in (layers of other lock TTLs or retentions sharing the store, a retention under
// "minRetention", renewals): making room and `Retry-After` read the first of a heap, never a scan.

/** Where entries are found in the order they may go: the store's, or one caller's. */
interface Heaps {
  /** Keys of locks by expiry. */
  readonly locks: TimeHeap<string>
  /** Keys of responses by when they may be evicted: at expiry, or once older than `minRetention`. */
  readonly done: TimeHeap<string>
}

/** What one caller holds. */
interface Share extends Heaps {
  readonly caller: string
  bytes: number
}

interface Lock {
  readonly fingerprint: string
  readonly owner: string
  readonly share: Share | undefined
  /** Its place among the store's locks; `at` is when it expires. */
  readonly inStore: Slot<string>
  /** Its place among its caller's locks, when a caller is named. */
  readonly inShare: Slot<string> | undefined
}

interface Done {
  readonly fingerprint: string
  readonly response: StoredResponse
  readonly expiresAt: number
  readonly size: number
  readonly share: Share | undefined
  /** Its place among the store's responses by when it may be evicted. */
  readonly inStore: Slot<string>
  /** Its place among the store's responses by expiry. */
  readonly byExpiry: Slot<string>
  /** Its place among its caller's responses by when it may be evicted, when a caller is named. */
  readonly inShare: Slot<string> | undefined
}

// Expired entries dropped on every claim, soonest first: amortizes expiry without a timer. Making room
// for a claim drops as many more as it needs.
const headDropsPerCall = 8

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
 * full, it drops expired entries, then evicts the completed responses older than `minRetention`, the
 * first that may go first, and never a lock in flight nor a younger response: a new claim is then refused
 * (the layer answers 503 with the `Retry-After` of the first entry that may go) rather than letting a
 * retry run its handler a second time. Each caller the layer names holds at most `maxEntriesPerCaller`
 * keys and `maxBytesPerCaller` bytes: past its share, it makes room from its own older responses or is
 * refused (429), so one caller cannot fill the store for the others. Entries are kept in the order they
 * may go (min-heaps by expiry and by eviction time), so layers of different lock TTLs and retentions can
 * share one store: a refused claim reads the first of each, whatever the store holds, and a claim costs
 * O(log n). `complete`, `release` and `extend` (the layer's lock renewal) take effect only for the owner
 * that holds the key.
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
  const locks = new Map<string, Lock>()
  const done = new Map<string, Done>()
  const store: Heaps = { locks: new TimeHeap(), done: new TimeHeap() }
  // Responses by expiry, to drop the expired ones as claims come.
  const doneByExpiry = new TimeHeap<string>()
  const shares = new Map<string, Share>()
  let bytes = 0

  const forgetIfEmpty = (share: Share | undefined) => {
    if (share !== undefined && share.locks.size === 0 && share.done.size === 0) shares.delete(share.caller)
  }
  // Leaves the lock's share in place: `complete` moves the key to the share's responses.
  const unlinkLock = (key: string, lock: Lock) => {
    locks.delete(key)
    store.locks.remove(lock.inStore)
    if (lock.inShare !== undefined) lock.share?.locks.remove(lock.inShare)
  }
  const dropLock = (key: string, lock: Lock) => {
    unlinkLock(key, lock)
    forgetIfEmpty(lock.share)
  }
  const dropDone = (key: string, entry: Done) => {
    done.delete(key)
    bytes -= entry.size
    store.done.remove(entry.inStore)
    doneByExpiry.remove(entry.byExpiry)
    const { share } = entry
    if (share === undefined || entry.inShare === undefined) return
    share.done.remove(entry.inShare)
    share.bytes -= entry.size
    forgetIfEmpty(share)
  }
  // Drops the lock (or response) of the first slot of `heap` when it is due by `now`: whether one went.
  // A slot whose key holds no entry (never, while the maps and heaps agree) is removed: no loop can spin.
  const dropDueLock = (heap: TimeHeap<string>, now: number): boolean => {
    const slot = heap.peek()
    if (slot === undefined || slot.at > now) return false
    const lock = locks.get(slot.value)
    if (lock === undefined) heap.remove(slot)
    else dropLock(slot.value, lock)
    return true
  }
  const dropDueDone = (heap: TimeHeap<string>, now: number): boolean => {
    const slot = heap.peek()
    if (slot === undefined || slot.at > now) return false
    const entry = done.get(slot.value)
    if (entry === undefined) heap.remove(slot)
    else dropDone(slot.value, entry)
    return true
  }
  // Frees what may go from `from` (the store, or one caller's share) while `full()`: lapsed locks first
  // (nothing is lost), then responses past `minRetention` or their expiry, the first that may go first.
  // Whether there is room now.
  const makeRoom = (from: Heaps, full: () => boolean, now: number): boolean => {
    while (full() && (dropDueLock(from.locks, now) || dropDueDone(from.done, now))) {}
    return !full()
  }
  // Bounded work per call, O(log n) per entry dropped.
  const dropExpired = (now: number) => {
    for (let budget = headDropsPerCall; budget > 0 && dropDueLock(store.locks, now); budget--) {}
    for (let budget = headDropsPerCall; budget > 0 && dropDueDone(doneByExpiry, now); budget--) {}
  }
  const liveLock = (key: string, now: number): Lock | undefined => {
    const lock = locks.get(key)
    if (lock !== undefined && lock.inStore.at <= now) {
      dropLock(key, lock)
      return undefined
    }
    return lock
  }
  const storeFull = () => locks.size + done.size >= maxEntries
  const shareFull = (share: Share) =>
    share.locks.size + share.done.size >= maxEntriesPerCaller || share.bytes >= maxBytesPerCaller
  // Room comes when the first of these goes: the first response that may be evicted or, unless only
  // bytes are short (a lock holds none), the first lock to lapse.
  const refusal = (
    reason: IdempotencyRefusal['reason'],
    from: Heaps,
    now: number,
    bytesOnly = false,
  ): IdempotencyRefusal => {
    const never = Number.POSITIVE_INFINITY
    const lock = bytesOnly ? undefined : from.locks.peek()
    const at = Math.min(from.done.peek()?.at ?? never, lock?.at ?? never)
    const retryAfterMs = at === never ? minRetention : Math.max(0, at - now)
    return { state: 'refused', reason, retryAfterMs }
  }
  const shareFor = (caller: string): Share => {
    let share = shares.get(caller)
    if (share === undefined) {
      share = { caller, locks: new TimeHeap(), done: new TimeHeap(), bytes: 0 }
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
      const caller = checkCaller(claimOptions?.caller)
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
      dropExpired(now)

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
      const expiresAt = now + lockTtlMs
      locks.set(key, {
        fingerprint,
        owner,
        share: holder,
        inStore: store.locks.push(key, expiresAt),
        inShare: holder?.locks.push(key, expiresAt),
      })
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
      const size = storedResponseSize(copy)
      if (size > maxBytes) {
        throw new Error(`the response is larger than the store's "maxBytes" of ${maxBytes}`)
      }
      const { share } = lock
      if (share !== undefined) {
        const over = () => share.bytes + size > maxBytesPerCaller
        // A response larger than the whole share costs the caller none of its stored ones.
        if (size > maxBytesPerCaller || !makeRoom(share, over, now)) {
          // Sent but not stored, as a response the store has no room for: only this caller's own.
          throw refusedClaimError(refusal('caller_quota', share, now, true))
        }
      }
      if (!makeRoom(store, () => bytes + size > maxBytes, now)) {
        // Nothing old enough to forget: the response is sent but not stored, and no stored response of
        // another caller is lost.
        throw new Error(`the idempotency store is full: "maxBytes" of ${maxBytes} held within "minRetention"`)
      }
      unlinkLock(key, lock)
      const expiresAt = now + retentionMs
      const evictableAt = Math.min(expiresAt, now + minRetention)
      done.set(key, {
        fingerprint: lock.fingerprint,
        response: copy,
        expiresAt,
        size,
        share,
        inStore: store.done.push(key, evictableAt),
        byExpiry: doneByExpiry.push(key, expiresAt),
        inShare: share?.done.push(key, evictableAt),
      })
      bytes += size
      if (share !== undefined) share.bytes += size
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
      store.locks.reschedule(lock.inStore, now + lockTtlMs)
      if (lock.inShare !== undefined) lock.share?.locks.reschedule(lock.inShare, now + lockTtlMs)
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
