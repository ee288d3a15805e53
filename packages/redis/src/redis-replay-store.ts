import type { ReplayStore } from '@zerotrust/core'
import { checkKey, pxMilliseconds } from './lib/arguments.js'
import { send } from './lib/deadline.js'
import { type RedisClient, type RedisStoreOptions, redisReplayStoreSettings } from './lib/options.js'
import { notReplicated, writeAndWait } from './lib/replication.js'

/**
 * A DPoP replay store on Redis, shared by every replica that uses the same Redis: a proof `jti` used
 * once anywhere is refused everywhere for the rest of its window.
 *
 * Each claim is one atomic `SET <prefix><key> 1 NX PX <ttl>`: `OK` means first use, nothing means a
 * replay. A Redis that fails or does not answer within `operationTimeout` rejects the claim with a
 * `ZeroTrustError` `dependency_unavailable` (503): the proof is refused, never let through. With
 * `waitForReplicas`, `WAIT` follows the `SET` in the same round trip, and a first use fewer replicas
 * acknowledged is refused the same way (`redis_not_replicated`).
 *
 * @example
 * import { Redis } from 'ioredis'
 * const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
 * const tokens = dpop(jwtBearer({ ... }), { replayStore: redisReplayStore(redis) })
 * @param client an ioredis `Redis` or `Cluster`, owned (connected and closed) by the caller
 * @throws TypeError naming the argument or option when one is invalid
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export function redisReplayStore(client: RedisClient, options?: RedisStoreOptions): ReplayStore {
  const { client: redis, prefix, operationTimeout, replication } = redisReplayStoreSettings(client, options)

  return Object.freeze({
    async claim(key: string, ttlMs: number): Promise<boolean> {
      checkKey(key)
      const ttl = pxMilliseconds('ttlMs', ttlMs)
      if (replication === undefined) {
        const reply = await send(() => redis.set(prefix + key, '1', 'PX', ttl, 'NX'), operationTimeout)
        return reply === 'OK'
      }
      const { reply, acknowledged } = await writeAndWait(
        redis,
        (pipeline) => pipeline.set(prefix + key, '1', 'PX', ttl, 'NX'),
        replication,
        operationTimeout,
      )
      // A replay wrote nothing: it is refused whatever the replicas hold.
      if (reply !== 'OK') return false
      // Held by the primary alone, the claim could vanish in a failover and the proof pass twice.
      if (acknowledged < replication.waitForReplicas) throw notReplicated()
      return true
    },
  })
}
