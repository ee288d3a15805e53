import { countCommands, deleteKeys, uniquePrefix } from '@zerotrust/testkit/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisReplayStore } from '../src/index.js'
import { type Target, targets } from './targets.js'

describe('redisReplayStore: options', () => {
  // No Redis needed: construction sends nothing.
  const client = { set() {}, setBuffer() {}, eval() {}, evalBuffer() {} } as unknown as Redis

  it('refuses a client that is not an ioredis client', () => {
    for (const bad of [undefined, null, 'redis://127.0.0.1', {}, { set() {} }]) {
      expect(() => redisReplayStore(bad as unknown as Redis)).toThrow(
        new TypeError('redisReplayStore: "client" argument must be an ioredis Redis or Cluster client'),
      )
    }
  })

  it('accepts every kind of ioredis client, a Cluster and a RESP3-mapped client included', () => {
    // lazyConnect: nothing connects, and the factories send nothing at construction.
    const cluster = new Cluster([{ host: '127.0.0.1', port: 6379 }], { lazyConnect: true })
    const resp3 = new Redis({ lazyConnect: true, replyMapping: 'resp3' })
    try {
      expect(typeof redisReplayStore(cluster).claim).toBe('function')
      expect(typeof redisReplayStore(resp3, { prefix: 'p:', operationTimeout: 50 }).claim).toBe('function')
      expect(cluster.status).toBe('wait')
      expect(resp3.status).toBe('wait')
    } finally {
      cluster.disconnect()
      resp3.disconnect()
    }
  })

  it('refuses an empty or non-string prefix', () => {
    for (const prefix of ['', 42, null]) {
      expect(() => redisReplayStore(client, { prefix } as never)).toThrow(
        new TypeError('redisReplayStore: "prefix" option must be a non-empty string'),
      )
    }
  })

  it('refuses an operationTimeout that is not a positive integer of milliseconds', () => {
    for (const operationTimeout of [0, -1, 1.5, '1000', Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => redisReplayStore(client, { operationTimeout } as never)).toThrow(
        new TypeError(
          'redisReplayStore: "operationTimeout" option must be a positive integer number of milliseconds, at most 2147483647',
        ),
      )
    }
  })

  it('refuses an unknown option and options that are not an object', () => {
    expect(() => redisReplayStore(client, { ttl: 5 } as never)).toThrow(
      new TypeError('redisReplayStore: "ttl" option is not recognized'),
    )
    expect(() => redisReplayStore(client, 'zt:' as never)).toThrow(
      new TypeError('redisReplayStore: options must be an object'),
    )
  })
})

// The same tests on the standalone Redis and on a Redis Cluster: a claim is one key, so it runs on
// whichever node owns the key's slot.
for (const kind of await targets())
  describe.skipIf(kind.skip)(`redisReplayStore on ${kind.name}`, () => {
    const prefix = uniquePrefix('replay')
    let target: Target
    let redis: Redis | Cluster
    let other: Redis | Cluster

    beforeAll(async () => {
      target = await kind.open()
      redis = target.connect()
      other = target.connect()
      await Promise.all([redis.ping(), other.ping()])
    }, 60_000)

    afterAll(async () => {
      if (redis !== undefined) {
        await deleteKeys(redis, prefix)
        await deleteKeys(redis, `zt:dpop:${prefix}`)
        redis.disconnect()
        other.disconnect()
      }
      await target?.close()
    })

    it('accepts the first use of a key and refuses the second, on another connection too', async () => {
      const store = redisReplayStore(redis, { prefix })
      const replica = redisReplayStore(other, { prefix })
      expect(await store.claim('jti-1', 60_000)).toBe(true)
      expect(await store.claim('jti-1', 60_000)).toBe(false)
      expect(await replica.claim('jti-1', 60_000)).toBe(false)
      expect(await replica.claim('jti-2', 60_000)).toBe(true)
    })

    it('writes one key under the prefix with the TTL, rounded up to whole milliseconds', async () => {
      const store = redisReplayStore(redis, { prefix })
      expect(await store.claim('ttl', 59_999.2)).toBe(true)
      const ttl = await redis.pttl(`${prefix}ttl`)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(60_000)
      expect(await redis.get(`${prefix}ttl`)).toBe('1')
    })

    it('uses the zt:dpop: prefix by default', async () => {
      const store = redisReplayStore(redis)
      expect(await store.claim(`${prefix}default`, 60_000)).toBe(true)
      expect(await redis.exists(`zt:dpop:${prefix}default`)).toBe(1)
    })

    it('forgets a key after its TTL', async () => {
      const store = redisReplayStore(redis, { prefix })
      expect(await store.claim('short', 100)).toBe(true)
      expect(await store.claim('short', 100)).toBe(false)
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect(await store.claim('short', 100)).toBe(true)
    })

    it('lets exactly one of 200 concurrent claims of one key through, over two connections', async () => {
      const stores = [redisReplayStore(redis, { prefix }), redisReplayStore(other, { prefix })]
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => stores[i % 2]?.claim('race', 60_000)),
      )
      expect(results.filter((result) => result === true)).toHaveLength(1)
      expect(results.filter((result) => result === false)).toHaveLength(199)
    })

    it('costs one round trip per claim, the first one included', async () => {
      const store = redisReplayStore(redis, { prefix })
      const counter = await countCommands(redis, prefix)
      try {
        await store.claim('trip', 60_000)
        await store.claim('trip', 60_000)
        const commands = await counter.settle()
        expect(commands.map((args) => args[0]?.toLowerCase())).toEqual(['set', 'set'])
        expect(commands[0]).toEqual(['set', `${prefix}trip`, '1', 'PX', '60000', 'NX'])
      } finally {
        await counter.close()
      }
    })

    it('rejects bad arguments with a TypeError and writes nothing', async () => {
      const store = redisReplayStore(redis, { prefix })
      await expect(store.claim('', 1000)).rejects.toThrow(new TypeError('"key" must be a non-empty string'))
      await expect(store.claim(42 as never, 1000)).rejects.toThrow(TypeError)
      for (const ttl of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, '1000']) {
        await expect(store.claim('bad-ttl', ttl as never)).rejects.toThrow(
          new TypeError('"ttlMs" must be a positive number of milliseconds'),
        )
      }
      expect(await redis.exists(`${prefix}bad-ttl`)).toBe(0)
    })

    it('rejects with dependency_unavailable when the client cannot send', async () => {
      // A connection closed by its owner, with no offline queue: ioredis refuses every command at once.
      const closed = target.connect({ enableOfflineQueue: false })
      await new Promise((resolve) => closed.once('ready', resolve))
      closed.disconnect()
      const broken = redisReplayStore(closed, { prefix })
      await expect(broken.claim('down', 1000)).rejects.toMatchObject({
        code: 'dependency_unavailable',
        status: 503,
        reason: 'redis_error',
      })
      // The refused claim wrote nothing: the key is still free.
      expect(await redisReplayStore(redis, { prefix }).claim('down', 1000)).toBe(true)
    })
  })
