// What a failover does to a write only its primary held (issue 22). Redis replicates asynchronously: a
// replica stopped (SIGSTOP) misses a claim its primary acknowledged; the primary is then killed and the
// replica promoted without the claim. Without `waitForReplicas` the proof passes twice; with it, the
// claim the replica missed was refused (503), and a primary left without replicas refuses every claim
// until one is back. One Redis Cluster for the file, started on loopback; each test leaves it healthy.
import type { RedisCluster, RedisProcess } from '@zerotrust/testkit/redis-cluster'
import {
  rawCommand,
  skipWithoutRedisBinaries,
  startRedisCluster,
  until,
} from '@zerotrust/testkit/redis-cluster'
import type { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisIdempotencyStore, redisReplayStore } from '../src/index.js'

const skip = skipWithoutRedisBinaries('the redis replication tests')
const notReplicated = { code: 'dependency_unavailable', status: 503, reason: 'redis_not_replicated' }

describe('waitForReplicas and replicaTimeout: options', () => {
  const client = { set() {}, setBuffer() {}, eval() {}, evalBuffer() {}, pipeline() {} } as unknown as Redis

  it('accepts 0 to 16 replicas, and a replicaTimeout below operationTimeout', () => {
    expect(() => redisReplayStore(client, { waitForReplicas: 0 })).not.toThrow()
    expect(() => redisReplayStore(client, { waitForReplicas: 16, replicaTimeout: 999 })).not.toThrow()
    expect(() =>
      redisIdempotencyStore(client, { waitForReplicas: 1, replicaTimeout: 400, operationTimeout: 500 }),
    ).not.toThrow()
  })

  it('refuses a count of replicas that is not an integer from 0 to 16', () => {
    for (const waitForReplicas of [-1, 1.5, 17, '1', Number.NaN]) {
      expect(() => redisReplayStore(client, { waitForReplicas } as never)).toThrow(
        new TypeError(
          'redisReplayStore: "waitForReplicas" option must be a non-negative integer, at most 16',
        ),
      )
    }
  })

  it('refuses a replicaTimeout that the operation deadline would always cut off', () => {
    expect(() => redisReplayStore(client, { waitForReplicas: 1, replicaTimeout: 1000 })).toThrow(
      new TypeError(
        'redisReplayStore: "replicaTimeout" option must leave "replicaTimeout" (1000) less than "operationTimeout" (1000)',
      ),
    )
    expect(() => redisIdempotencyStore(client, { waitForReplicas: 2, operationTimeout: 50 })).toThrow(
      /^redisIdempotencyStore: "operationTimeout" option must leave "replicaTimeout" \(100\)/,
    )
    expect(() => redisReplayStore(client, { replicaTimeout: 0 })).toThrow(TypeError)
    // Without waitForReplicas nothing waits: a short operationTimeout alone is fine.
    expect(() => redisReplayStore(client, { operationTimeout: 50 })).not.toThrow()
  })

  it('refuses a client that cannot pipeline when it must wait for replicas', () => {
    const bare = { set() {}, setBuffer() {}, eval() {}, evalBuffer() {} } as unknown as Redis
    expect(() => redisReplayStore(bare)).not.toThrow()
    expect(() => redisIdempotencyStore(bare, { waitForReplicas: 1 })).toThrow(
      new TypeError('redisIdempotencyStore: "client" argument must be an ioredis client that can pipeline'),
    )
  })
})

describe.skipIf(skip)('redis stores across a failover of a Redis Cluster (issue 22)', () => {
  let cluster: RedisCluster
  let client: Cluster

  beforeAll(async () => {
    cluster = await startRedisCluster()
    client = cluster.client({ enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } })
    await new Promise((resolve) => client.once('ready', resolve))
  }, 60_000)

  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })

  /**
   * Cuts the replica of `key`'s primary off (stopped, its replication link closed by the primary, so it
   * cannot reconnect), runs `write` (acknowledged by the primary alone), kills the primary and lets the
   * replica, which never saw the write, take over. Answers the dead primary.
   */
  async function loseWrite(key: string, write: () => Promise<void>): Promise<RedisProcess> {
    const primary = await cluster.primaryOf(key)
    const replica = await cluster.replicaOf(primary)
    replica.pause()
    try {
      // A stopped process still receives what its kernel buffers: the link must be closed first.
      expect(await rawCommand(primary.port, 'CLIENT KILL TYPE replica')).toMatch(/^:[1-9]/)
      await write()
      await primary.kill()
    } finally {
      replica.resume()
    }
    await cluster.waitUntilHealthy()
    return primary
  }

  /** Polls `attempt` until it settles other than with a connection-level failure (bounded: 20 s). */
  async function afterFailover<T>(attempt: () => T | Promise<T>): Promise<T | unknown> {
    let outcome: { value: T } | { error: unknown } | undefined
    await until(
      async () => {
        outcome = await Promise.resolve()
          .then(attempt)
          .then(
            (value) => ({ value }),
            (error: unknown) => ({ error }),
          )
        // redis_error and redis_timeout: the client still talks to the dead node or the election runs.
        const reason = 'error' in outcome ? (outcome.error as { reason?: string }).reason : undefined
        return reason !== 'redis_error' && reason !== 'redis_timeout'
      },
      'the store reaches the promoted replica',
      20_000,
      100,
    )
    if (outcome === undefined) throw new Error('no attempt')
    return 'value' in outcome ? outcome.value : outcome.error
  }

  it('spreads callers over every primary, each call on one slot, with and without waiting for replicas', async () => {
    for (const waitForReplicas of [0, 1]) {
      const prefix = `spread${waitForReplicas}:`
      const store = redisIdempotencyStore(client, { prefix, waitForReplicas, operationTimeout: 2000 })
      const primaries = new Set<number>()
      for (let i = 0; i < 30; i++) {
        const caller = { caller: `caller-${i}` }
        const claim = await store.claim('order', 'fp', 30_000, caller)
        if (claim.state !== 'claimed') throw new Error('expected a claim')
        const response = { status: 201, headers: {}, body: new Uint8Array([i]) }
        // Any CROSSSLOT answer would reject here as a 503.
        expect(await store.complete('order', claim.owner, response, 60_000)).toBe(true)
        expect(await store.claim('order', 'fp', 30_000, caller)).toMatchObject({ state: 'completed' })
        const tag = claim.owner.split('.')[1]
        primaries.add((await cluster.primaryOf(`${prefix}{${tag}}:order`)).port)
      }
      expect(primaries.size).toBe(3)
    }
  }, 60_000)

  it('without waitForReplicas, loses a claim only its dead primary held: the proof passes twice', async () => {
    const store = redisReplayStore(client, { prefix: 'lost:', operationTimeout: 500 })
    const primary = await loseWrite('lost:jti-1', async () => {
      expect(await store.claim('jti-1', 60_000)).toBe(true)
    })
    try {
      // What the README states: asynchronous replication, a write acknowledged and gone.
      expect(await afterFailover(() => store.claim('jti-1', 60_000))).toBe(true)
    } finally {
      await primary.restart()
      await cluster.waitUntilHealthy()
    }
  }, 60_000)

  it('with waitForReplicas: 1, refuses the claim the replica missed, and accepts a proof once', async () => {
    const options = { prefix: 'kept:', operationTimeout: 500, waitForReplicas: 1, replicaTimeout: 100 }
    const replay = redisReplayStore(client, options)
    const idempotency = redisIdempotencyStore(client, options)
    // Healthy: every write is acknowledged by the replica, and the stores work as without the option.
    expect(await replay.claim('healthy', 60_000)).toBe(true)
    expect(await replay.claim('healthy', 60_000)).toBe(false)
    const claim = await idempotency.claim('order', 'fp', 30_000, { caller: 'alice' })
    if (claim.state !== 'claimed') throw new Error('expected a claim')
    const response = { status: 201, headers: {}, body: new Uint8Array([1, 2]) }
    expect(await idempotency.complete('order', claim.owner, response, 60_000)).toBe(true)
    expect(await idempotency.claim('order', 'fp', 30_000, { caller: 'alice' })).toMatchObject({
      state: 'completed',
    })

    // Keys of one hash tag, so of one primary: one used before, one the replica will miss.
    expect(await replay.claim('{s}used', 60_000)).toBe(true)
    // The key's replica stopped: the claim is on the primary only, and refused.
    const primary = await loseWrite('kept:{s}jti-2', async () => {
      await expect(replay.claim('{s}jti-2', 60_000)).rejects.toMatchObject(notReplicated)
    })
    try {
      // The promoted replica has no replica of its own: every first use on it is refused, never accepted.
      expect(await afterFailover(() => replay.claim('{s}jti-2', 60_000))).toMatchObject(notReplicated)
      // A replay, which writes nothing, is answered as one whatever the replicas hold.
      expect(await replay.claim('{s}used', 60_000)).toBe(false)
    } finally {
      // The dead primary returns as the replica of the promoted one.
      await primary.restart()
      await cluster.waitUntilHealthy()
    }
    // The refused claims were written on the primary all the same: the proof, never accepted, stays used
    // (as after a timeout: a 503 costs the client a new proof, never a second acceptance). A new proof
    // is accepted once.
    expect(await afterFailover(() => replay.claim('{s}jti-3', 60_000))).toBe(true)
    expect(await replay.claim('{s}jti-3', 60_000)).toBe(false)
    expect(await replay.claim('{s}jti-2', 60_000)).toBe(false)
  }, 90_000)

  it('with waitForReplicas: 1, refuses an idempotency claim and a stored response the replica missed', async () => {
    const options = { prefix: 'idem:', operationTimeout: 500, waitForReplicas: 1, replicaTimeout: 100 }
    const store = redisIdempotencyStore(client, options)
    // Keys of one hash tag, so of one primary.
    const held = await store.claim('{o}paid', 'fp', 30_000)
    if (held.state !== 'claimed') throw new Error('expected a claim')
    const primary = await cluster.primaryOf('idem:{o}paid')
    const replica = await cluster.replicaOf(primary)
    replica.pause()
    try {
      // Stored on the primary, not acknowledged: the layer reports complete_failed, the key stays held.
      const response = { status: 201, headers: {}, body: new Uint8Array([7]) }
      await expect(store.complete('{o}paid', held.owner, response, 60_000)).rejects.toMatchObject(
        notReplicated,
      )
      // A new claim on the same primary is refused; a retry of the held key writes nothing and is
      // answered with what the primary holds.
      await expect(store.claim('{o}next', 'fp', 30_000)).rejects.toMatchObject(notReplicated)
      expect(await store.claim('{o}paid', 'fp', 30_000)).toMatchObject({ state: 'completed' })
    } finally {
      replica.resume()
    }
    await cluster.waitUntilHealthy()
  }, 60_000)
})
