import { type ReplayStore, ZeroTrustError } from '@zerotrust/core'
import { type MemoryReplayStoreOptions, memoryReplayStoreSettings } from './lib/options.js'

/**
 * A bounded in-memory {@link ReplayStore} for one process. A fleet of replicas needs a shared store
 * (`redisReplayStore` from `@zerotrust/redis`): a proof replayed against another replica is only caught
 * there.
 *
 * @example
 * const tokens = dpop(jwtBearer({ ... }), { replayStore: memoryReplayStore({ maxEntries: 50_000 }) })
 * @throws TypeError naming the option when an option is invalid
 */
export function memoryReplayStore(options: MemoryReplayStoreOptions = {}): ReplayStore {
  const { maxEntries } = memoryReplayStoreSettings(options)
  // Insertion order is close to expiry order (one window per dpop()), so expired entries sit at the head.
  const seen = new Map<string, number>()
  // When full, the whole map is swept at most once a second, not on every refused claim.
  let lastFullSweep = 0

  function sweep(now: number, everything: boolean): void {
    for (const [key, expiresAt] of seen) {
      if (expiresAt <= now) seen.delete(key)
      else if (!everything) return
    }
  }

  return {
    claim(key: string, ttlMs: number): boolean {
      const now = Date.now()
      const expiresAt = seen.get(key)
      if (expiresAt !== undefined) {
        if (expiresAt > now) return false
        seen.delete(key)
      }
      sweep(now, false)
      if (seen.size >= maxEntries && now - lastFullSweep >= 1000) {
        lastFullSweep = now
        sweep(now, true)
      }
      if (seen.size >= maxEntries) {
        throw new ZeroTrustError('dependency_unavailable', 'the DPoP replay store is full', {
          reason: 'replay_store_full',
          retryAfter: 1,
        })
      }
      seen.set(key, now + ttlMs)
      return true
    },
  }
}
