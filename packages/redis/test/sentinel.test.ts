// The stores behind Redis Sentinel (issue 22): a primary, its replica and one sentinel on loopback, an
// ioredis client that asks the sentinel where the primary is, and the primary killed. Claims fail closed
// (503) while the sentinel fails over, and work again on the promoted replica without a restart.
import {
  type RedisSentinelGroup,
  skipWithoutRedisBinaries,
  startRedisSentinel,
  until,
} from '@zerotrust/testkit/redis-cluster'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisIdempotencyStore, redisReplayStore } from '../src/index.js'

const skip = skipWithoutRedisBinaries('the redis sentinel test')

describe.skipIf(skip)('redis stores behind Redis Sentinel while the primary fails over (issue 22)', () => {
  let group: RedisSentinelGroup
  let client: Redis

  beforeAll(async () => {
    group = await startRedisSentinel({ downAfter: 1000 })
    // The settings the README gives for Sentinel.
    client = new Redis({
      sentinels: [{ host: '127.0.0.1', port: group.sentinel.port }],
      name: group.name,
      role: 'master',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Reconnect soon after a failover: the sentinel names the new primary.
      retryStrategy: (times) => Math.min(times * 100, 1000),
    })
    client.on('error', () => {})
    await new Promise((resolve) => client.once('ready', resolve))
  }, 60_000)

  afterAll(async () => {
    client?.disconnect()
    await group?.stop()
  })

  it('fails closed during the failover and recovers on the promoted replica', async () => {
    const replay = redisReplayStore(client, { prefix: 'sentinel:', operationTimeout: 500 })
    const idempotency = redisIdempotencyStore(client, { prefix: 'sentinel:', operationTimeout: 500 })
    expect(await replay.claim('before', 60_000)).toBe(true)
    const held = await idempotency.claim('order', 'fp', 60_000, { caller: 'alice' })
    expect(held.state).toBe('claimed')
    // The claims reached the replica before the primary dies (WAIT on the connection that wrote them).
    expect(await client.wait(1, 5000)).toBe(1)

    await group.primary.kill()
    const outcomes = new Set<string>()
    // Bounded: 30 s of claims, 100 ms apart, until one goes through on the promoted replica.
    let recovered = false
    await until(
      async () => {
        try {
          recovered = await replay.claim(`during-${Math.random()}`, 60_000)
          return recovered
        } catch (error) {
          const { code, status } = error as { code?: string; status?: number }
          outcomes.add(`${code} ${status}`)
          return false
        }
      },
      'a claim goes through after the failover',
      30_000,
      100,
    )
    expect(recovered).toBe(true)
    // Every failure meanwhile was a 503, never an acceptance.
    expect([...outcomes].every((outcome) => outcome === 'dependency_unavailable 503')).toBe(true)
    // The promoted replica holds what was replicated: the proof stays used, the key stays held.
    expect(await replay.claim('before', 60_000)).toBe(false)
    expect(await idempotency.claim('order', 'fp', 60_000, { caller: 'alice' })).toEqual({
      state: 'in_flight',
      fingerprint: 'fp',
    })
  }, 60_000)
})
