// Cost of a claim and of a replay on a Redis Cluster against the standalone Redis, in one run (issue 22):
// the replay store's claim (a DPoP proof's first use), the idempotency store's first request (claim and
// complete, naming a caller, as the layer does) and its replay of a stored response, on
//   - the standalone Redis at 127.0.0.1:6379 (or REDIS_URL),
//   - a Redis Cluster of three primaries and three replicas started on loopback for the run,
//   - the same Cluster with `waitForReplicas: 1` (each claim and stored response waits for its replica).
//
// Run: pnpm --filter @zerotrust/redis bench:cluster. BENCH_TIME (ms per task) overrides the default.
// Keys go under a unique prefix; the cluster is stopped and its directory removed afterwards.
import { randomUUID } from 'node:crypto'
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import type { IdempotencyStore, ReplayStore } from '@zerotrust/core'
import { deleteKeys } from '@zerotrust/testkit/redis'
import { startRedisCluster } from '@zerotrust/testkit/redis-cluster'
import { type Cluster, Redis } from 'ioredis'
import { Bench } from 'tinybench'
import { redisIdempotencyStore, redisReplayStore } from '../src/index.js'

const time = envInteger('BENCH_TIME', 1000)
const response = {
  status: 201,
  headers: { 'content-type': 'application/json', location: '/orders/123' },
  body: new TextEncoder().encode(JSON.stringify({ id: 123, status: 'created', total: '42.00' })),
}
const caller = { caller: 'bench-caller' }

interface Stores {
  readonly name: string
  readonly replay: ReplayStore
  readonly idempotency: IdempotencyStore
}

async function add(bench: Bench, { name, replay, idempotency }: Stores): Promise<void> {
  let n = 0
  const done = await idempotency.claim('replayed', 'fp', 60_000, caller)
  if (done.state !== 'claimed') throw new Error('expected a claim')
  await idempotency.complete('replayed', done.owner, response, 600_000)
  bench
    .add(`${name}: replay store claim (first use)`, () => replay.claim(`jti:${n++}`, 60_000))
    .add(`${name}: idempotency claim + complete (first request)`, async () => {
      const key = `key:${n++}`
      const claim = await idempotency.claim(key, 'fp', 30_000, caller)
      if (claim.state !== 'claimed') throw new Error('expected a claim')
      await idempotency.complete(key, claim.owner, response, 600_000)
    })
    .add(`${name}: idempotency claim (replay of a stored response)`, () =>
      idempotency.claim('replayed', 'fp', 30_000, caller),
    )
}

async function main(): Promise<void> {
  const prefix = `zt-bench-${randomUUID()}:`
  const standalone = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
  const cluster = await startRedisCluster()
  let client: Cluster | undefined
  try {
    client = cluster.client({ redisOptions: { maxRetriesPerRequest: 1 } })
    await new Promise((resolve) => client?.once('ready', resolve))
    const waited = { prefix, waitForReplicas: 1, replicaTimeout: 100 }
    const bench = new Bench(benchOptions(time, { warmupTime: 300 }))
    await add(bench, {
      name: 'standalone',
      replay: redisReplayStore(standalone, { prefix }),
      idempotency: redisIdempotencyStore(standalone, { prefix }),
    })
    await add(bench, {
      name: 'cluster',
      replay: redisReplayStore(client, { prefix }),
      idempotency: redisIdempotencyStore(client, { prefix }),
    })
    await add(bench, {
      name: 'cluster, waitForReplicas 1',
      replay: redisReplayStore(client, { ...waited, prefix: `${prefix}w:` }),
      idempotency: redisIdempotencyStore(client, { ...waited, prefix: `${prefix}w:` }),
    })
    await bench.run()
    const version = /redis_version:(\S+)/.exec(await standalone.info('server'))?.[1] ?? 'unknown'
    report(bench, { title: `Redis ${version} on loopback: standalone and a 3+3 Cluster, one run` })
  } finally {
    await deleteKeys(standalone, prefix)
    standalone.disconnect()
    client?.disconnect()
    await cluster.stop()
  }
}

await main()
