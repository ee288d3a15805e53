import { randomUUID } from 'node:crypto'
import type {
  IdempotencyClaim,
  IdempotencyClaimOptions,
  IdempotencyStore,
  StoredResponse,
} from '@zerotrust/core'
import { checkCaller, refusedClaimError, storedResponseSize } from '@zerotrust/core/layer'
import type { ChainableCommander } from 'ioredis'
import { checkFingerprint, checkKey, pxMilliseconds } from './lib/arguments.js'
import { corruptRecord, send } from './lib/deadline.js'
import {
  type RedisClient,
  type RedisIdempotencyStoreOptions,
  redisIdempotencyStoreSettings,
} from './lib/options.js'
import { callerKeys, callerTag, ownerToken, parseOwner, refusedFor } from './lib/quota.js'
import { decodeRecord, encodePending, encodeResponse, pendingPrefix } from './lib/record.js'
import { notReplicated, writeAndWait } from './lib/replication.js'
import {
  claimQuotaScript,
  completeQuotaScript,
  completeScript,
  extendQuotaScript,
  extendScript,
  releaseQuotaScript,
  releaseScript,
} from './lib/scripts.js'

/**
 * An `Idempotency-Key` store on Redis, shared by every replica that uses the same Redis: a retry that
 * lands on another replica finds the claim or the stored response.
 *
 * Every operation is one round trip and atomic. A claim that names no caller is `SET <prefix><key>
 * <pending record> NX PX <lockTtl> GET`, whose answer is either nothing (the key is now held by a fresh
 * random owner token) or the record already there (in flight, or completed with its response). A claim
 * that names a caller (the idempotency layer names the authenticated one) is a Lua script that does the
 * same under the caller's hash tag and counts the key against the caller's share, `maxEntriesPerCaller`
 * keys and `maxBytesPerCaller` bytes: a caller at its share makes room from its own responses older than
 * `minRetention`, or is refused (`caller_quota`, the layer answers 429), and no other caller is touched.
 * `complete`, `release` and `extend` (the layer's lock renewal, `PEXPIRE`) are Lua scripts that act only
 * while the caller's own pending record is under the key, so a holder whose lock expired can never
 * overwrite, delete or prolong the next owner's claim, and a completed response keeps its retention.
 *
 * A Redis that fails, does not answer within `operationTimeout`, or holds a value under the key that this
 * store did not write, rejects with a `ZeroTrustError` `dependency_unavailable` (503). With
 * `waitForReplicas`, a claim taken or a response stored is followed by `WAIT` in the same round trip, and
 * one fewer replicas acknowledged rejects the same way (`redis_not_replicated`).
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
  options?: RedisIdempotencyStoreOptions,
): Required<IdempotencyStore> {
  const {
    client: redis,
    prefix,
    operationTimeout,
    maxEntriesPerCaller,
    maxBytesPerCaller,
    minRetention,
    replication,
  } = redisIdempotencyStoreSettings(client, options)

  // One command, or one command and its WAIT in the same round trip; `wrote` tells from the reply
  // whether the command wrote what must survive a failover (a claim taken, a response stored).
  const write = async (
    direct: () => Promise<unknown>,
    piped: (pipeline: ChainableCommander) => ChainableCommander,
    wrote: (reply: unknown) => boolean,
  ): Promise<unknown> => {
    if (replication === undefined) return send(direct, operationTimeout)
    const { reply, acknowledged } = await writeAndWait(redis, piped, replication, operationTimeout)
    if (wrote(reply) && acknowledged < replication.waitForReplicas) throw notReplicated()
    return reply
  }

  return Object.freeze({
    async claim(
      key: string,
      fingerprint: string,
      lockTtlMs: number,
      claimOptions?: IdempotencyClaimOptions,
    ): Promise<IdempotencyClaim> {
      checkKey(key)
      checkFingerprint(fingerprint)
      const ttl = pxMilliseconds('lockTtlMs', lockTtlMs)
      const caller = checkCaller(claimOptions?.caller)
      const tag = caller === undefined ? undefined : callerTag(caller)
      const uuid = randomUUID()
      const record = encodePending(uuid, fingerprint)
      if (tag === undefined) {
        // Redis ≥ 7.0: NX with GET claims and reads the previous value in one atomic command.
        const previous = (await write(
          () => redis.setBuffer(prefix + key, record, 'PX', ttl, 'NX', 'GET'),
          (pipeline) => pipeline.setBuffer(prefix + key, record, 'PX', ttl, 'NX', 'GET'),
          (reply) => reply === null,
        )) as Buffer | null
        if (previous === null) return { state: 'claimed', owner: uuid }
        return decodeRecord(previous)
      }
      const keys = callerKeys(prefix, tag, key)
      const args = [
        keys.record,
        keys.entries,
        keys.sizes,
        keys.base,
        key,
        record,
        ttl,
        maxEntriesPerCaller,
        maxBytesPerCaller,
        minRetention,
      ] as const
      // A pipeline has no evalBuffer: callBuffer('EVAL') keeps the record a reply may carry as bytes.
      const reply = await write(
        () => redis.evalBuffer(claimQuotaScript, 3, ...args),
        (pipeline) => pipeline.callBuffer('EVAL', claimQuotaScript, 3, ...args),
        succeeded,
      )
      if (Buffer.isBuffer(reply)) return decodeRecord(reply)
      if (succeeded(reply)) return { state: 'claimed', owner: ownerToken(uuid, tag) }
      const ms = refusedFor(reply)
      if (ms === undefined) throw corruptRecord('reply')
      return { state: 'refused', reason: 'caller_quota', retryAfterMs: ms }
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
      const token = parseOwner(owner)
      if (token === undefined) return false
      if (token.tag === undefined) {
        const args = [prefix + key, pendingPrefix(token.uuid), encoded, retention] as const
        const reply = await write(
          () => redis.eval(completeScript, 1, ...args),
          (pipeline) => pipeline.eval(completeScript, 1, ...args),
          succeeded,
        )
        return succeeded(reply)
      }
      // What the caller's share counts: the bytes of the stored response, as the memory store does.
      const size = storedResponseSize(response)
      // A response larger than the whole share would never fit: refused before anything is sent.
      if (size > maxBytesPerCaller)
        throw refusedClaimError({ reason: 'caller_quota', retryAfterMs: minRetention })
      const keys = callerKeys(prefix, token.tag, key)
      const args = [
        keys.record,
        keys.entries,
        keys.sizes,
        keys.base,
        key,
        pendingPrefix(token.uuid),
        encoded,
        retention,
        size,
        maxBytesPerCaller,
        minRetention,
      ] as const
      const reply = await write(
        () => redis.evalBuffer(completeQuotaScript, 3, ...args),
        (pipeline) => pipeline.callBuffer('EVAL', completeQuotaScript, 3, ...args),
        succeeded,
      )
      const ms = refusedFor(reply)
      // Sent but not stored, as a response no store has room for.
      if (ms !== undefined) throw refusedClaimError({ reason: 'caller_quota', retryAfterMs: ms })
      return succeeded(reply)
    },

    async release(key: string, owner: string): Promise<boolean> {
      checkKey(key)
      const token = parseOwner(owner)
      if (token === undefined) return false
      if (token.tag === undefined) {
        const reply = await send(
          () => redis.eval(releaseScript, 1, prefix + key, pendingPrefix(token.uuid)),
          operationTimeout,
        )
        return succeeded(reply)
      }
      const keys = callerKeys(prefix, token.tag, key)
      const reply = await send(
        () =>
          redis.evalBuffer(
            releaseQuotaScript,
            3,
            keys.record,
            keys.entries,
            keys.sizes,
            keys.base,
            key,
            pendingPrefix(token.uuid),
          ),
        operationTimeout,
      )
      return succeeded(reply)
    },

    async extend(key: string, owner: string, lockTtlMs: number): Promise<boolean> {
      checkKey(key)
      const ttl = pxMilliseconds('lockTtlMs', lockTtlMs)
      const token = parseOwner(owner)
      if (token === undefined) return false
      if (token.tag === undefined) {
        const reply = await send(
          () => redis.eval(extendScript, 1, prefix + key, pendingPrefix(token.uuid), ttl),
          operationTimeout,
        )
        return succeeded(reply)
      }
      const keys = callerKeys(prefix, token.tag, key)
      const reply = await send(
        () =>
          redis.evalBuffer(
            extendQuotaScript,
            3,
            keys.record,
            keys.entries,
            keys.sizes,
            keys.base,
            key,
            pendingPrefix(token.uuid),
            ttl,
          ),
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
