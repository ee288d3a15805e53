import { randomUUID } from 'node:crypto'
import type { IdempotencyClaim, IdempotencyStore, StoredResponse } from '@zerotrust/core'
import { checkFingerprint, checkKey, pxMilliseconds } from './lib/arguments.js'
import { send } from './lib/deadline.js'
import { type RedisClient, type RedisStoreOptions, storeSettings } from './lib/options.js'
import { decodeRecord, encodePending, encodeResponse, isOwnerToken, pendingPrefix } from './lib/record.js'
import { completeScript, extendScript, releaseScript } from './lib/scripts.js'

/**
 * An `Idempotency-Key` store on Redis, shared by every replica that uses the same Redis: a retry that
 * lands on another replica finds the claim or the stored response.
 *
 * Every operation is one round trip and atomic. `claim` is `SET <prefix><key> <pending record> NX PX
 * <lockTtl> GET`, whose answer is either nothing (the key is now held by a fresh random owner token) or
 * the record already there (in flight, or completed with its response). `complete`, `release` and
 * `extend` (the layer's lock renewal, `PEXPIRE`) are Lua scripts that act only while the caller's own
 * pending record is under the key, so a holder whose lock expired can never overwrite, delete or prolong
 * the next owner's claim, and a completed response keeps its retention.
 *
 * A Redis that fails, does not answer within `operationTimeout`, or holds a value under the key that this
 * store did not write, rejects with a `ZeroTrustError` `dependency_unavailable` (503).
 *
 * @example
 * import { Redis } from 'ioredis'
 * const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
 * const writes = idempotency({ store: redisIdempotencyStore(redis), required: true })
 * @param client an ioredis `Redis` or `Cluster`, owned (connected and closed) by the caller
 * @throws TypeError naming the argument or option when one is invalid
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
 */
export function redisIdempotencyStore(
  client: RedisClient,
  options?: RedisStoreOptions,
): Required<IdempotencyStore> {
  const {
    client: redis,
    prefix,
    operationTimeout,
  } = storeSettings('redisIdempotencyStore', client, options, 'zt:idem:')

  return Object.freeze({
    async claim(key: string, fingerprint: string, lockTtlMs: number): Promise<IdempotencyClaim> {
      checkKey(key)
      checkFingerprint(fingerprint)
      const ttl = pxMilliseconds('lockTtlMs', lockTtlMs)
      const owner = randomUUID()
      const record = encodePending(owner, fingerprint)
      // Redis ≥ 7.0: NX with GET claims and reads the previous value in one atomic command.
      const previous = await send(
        () => redis.setBuffer(prefix + key, record, 'PX', ttl, 'NX', 'GET'),
        operationTimeout,
      )
      if (previous === null) return { state: 'claimed', owner }
      return decodeRecord(previous)
    },

    async complete(
      key: string,
      owner: string,
      response: StoredResponse,
      retentionMs: number,
    ): Promise<boolean> {
      checkKey(key)
      const retention = pxMilliseconds('retentionMs', retentionMs)
      const encoded = encodeResponse(response)
      // A token this store never issued cannot hold any key.
      if (!isOwnerToken(owner)) return false
      const reply = await send(
        () => redis.eval(completeScript, 1, prefix + key, pendingPrefix(owner), encoded, retention),
        operationTimeout,
      )
      return succeeded(reply)
    },

    async release(key: string, owner: string): Promise<boolean> {
      checkKey(key)
      if (!isOwnerToken(owner)) return false
      const reply = await send(
        () => redis.eval(releaseScript, 1, prefix + key, pendingPrefix(owner)),
        operationTimeout,
      )
      return succeeded(reply)
    },

    async extend(key: string, owner: string, lockTtlMs: number): Promise<boolean> {
      checkKey(key)
      const ttl = pxMilliseconds('lockTtlMs', lockTtlMs)
      if (!isOwnerToken(owner)) return false
      const reply = await send(
        () => redis.eval(extendScript, 1, prefix + key, pendingPrefix(owner), ttl),
        operationTimeout,
      )
      return succeeded(reply)
    },
  })
}

// The scripts answer the integer 1 or 0; a client with `stringNumbers: true` reads it as "1" or "0".
function succeeded(reply: unknown): boolean {
  return reply === 1 || reply === '1'
}
