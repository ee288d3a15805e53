// Cost of the Redis stores on the local Redis (127.0.0.1:6379), each next to its floor: the same
// commands sent with ioredis alone. The difference is this package's own work (argument checks,
// record encoding and decoding, the deadline timer).
//
// Run: pnpm --filter @zerotrust/redis bench. BENCH_TIME (ms per task) overrides the default; REDIS_URL
// another Redis. Keys go under a unique prefix and are deleted afterwards.
import { randomUUID } from 'node:crypto'
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import { Redis } from 'ioredis'
import { Bench } from 'tinybench'
import { redisIdempotencyStore, redisReplayStore } from '../src/index.js'
import { encodePending, encodeResponse, pendingPrefix } from '../src/lib/record.js'
import { completeScript } from '../src/lib/scripts.js'

const time = envInteger('BENCH_TIME', 1000)

async function main(): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
  const prefix = `zt-bench:${randomUUID()}:`
  try {
    const replay = redisReplayStore(redis, { prefix })
    const idempotency = redisIdempotencyStore(redis, { prefix })
    const response = {
      status: 201,
      headers: { 'content-type': 'application/json', location: '/orders/123' },
      body: new TextEncoder().encode(JSON.stringify({ id: 123, status: 'created', total: '42.00' })),
    }
    const owner = randomUUID()
    const pending = encodePending(owner, 'fp')
    const encoded = encodeResponse(response)
    let n = 0
    // A completed key to replay.
    const done = await idempotency.claim('replayed', 'fp', 60_000)
    if (done.state !== 'claimed') throw new Error('expected a claim')
    await idempotency.complete('replayed', done.owner, response, 600_000)

    const bench = new Bench(benchOptions(time, { warmupTime: 300 }))
    bench
      .add('floor: ioredis SET NX PX', () => redis.set(`${prefix}raw:${n++}`, '1', 'PX', 60_000, 'NX'))
      .add('redisReplayStore claim (first use)', () => replay.claim(`jti:${n++}`, 60_000))
      .add('floor: ioredis SET NX PX GET + EVAL of the same script', async () => {
        // The same commands with the same payloads, prepared once: what is left is the store's own work.
        const key = `${prefix}raw:${n++}`
        await redis.setBuffer(key, pending, 'PX', 30_000, 'NX', 'GET')
        await redis.eval(completeScript, 1, key, pendingPrefix(owner), encoded, 600_000)
      })
      .add('redisIdempotencyStore claim + complete (first request)', async () => {
        const key = `key:${n++}`
        const claim = await idempotency.claim(key, 'fp', 30_000)
        if (claim.state !== 'claimed') throw new Error('expected a claim')
        await idempotency.complete(key, claim.owner, response, 600_000)
      })
      .add('floor: ioredis SET NX PX GET of a stored record', () =>
        redis.setBuffer(`${prefix}replayed`, pending, 'PX', 30_000, 'NX', 'GET'),
      )
      .add('redisIdempotencyStore claim (replay of a stored response)', () =>
        idempotency.claim('replayed', 'fp', 30_000),
      )
    await bench.run()

    const info = await redis.info('server')
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
    // Each store operation follows its floor: the same commands sent with ioredis alone.
    report(bench, { title: `Redis ${version} on loopback` })
  } finally {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  }
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  // Bounded: the bench writes at most a few hundred thousand keys.
  for (let page = 0; page < 10_000; page++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
    if (cursor === '0') return
  }
}

await main()
