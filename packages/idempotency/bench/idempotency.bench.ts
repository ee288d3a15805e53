// Cost of the idempotency layer itself, without HTTP: a first request (parse the key, fingerprint a JSON
// body, claim, complete) and a replay, on the memory store, next to their floor (SHA-256 of the body and
// a Map write/read).
//
// Run: pnpm --filter @zerotrust/idempotency bench. BENCH_TIME (ms per task) overrides the default.
import { createHash } from 'node:crypto'
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import type { Auth, RequestLike } from '@zerotrust/core'
import type { IdempotencyHandle } from '@zerotrust/core/layer'
import { Bench } from 'tinybench'
import { idempotency, memoryIdempotencyStore } from '../src/index.js'

const time = envInteger('BENCH_TIME', 1000)
const auth = { subject: 'alice', clientId: 'web', issuer: 'https://idp.example.com/' } as Auth
const body = { amount: 42, currency: 'EUR', customer: { id: 'cus_123', email: 'a@example.com' } }
const response = {
  status: 201,
  headers: { 'content-type': 'application/json; charset=utf-8', location: '/payments/1' },
  body: new TextEncoder().encode('{"id":1,"amount":42,"currency":"EUR"}'),
}

function view(key: string): RequestLike {
  return {
    method: 'POST',
    origin: undefined,
    target: '/payments',
    path: '/payments',
    headerValues: (name) => (name === 'idempotency-key' ? [key] : []),
  }
}

async function main(): Promise<void> {
  const layer = idempotency({ store: memoryIdempotencyStore({ maxEntries: 1_000_000, maxBytes: 1024 ** 3 }) })
  const replayed = view('"replay"')
  const first = await layer.begin({ req: replayed, auth, body: { kind: 'parsed', value: body } })
  await (first as { handle: IdempotencyHandle }).handle.complete(response)
  const floor = new Map<string, string>()
  let n = 0

  const bench = new Bench(benchOptions(time))
  bench
    .add('floor: SHA-256 of the JSON body + Map set and get', () => {
      const key = `k${n++}`
      floor.set(key, createHash('sha256').update(JSON.stringify(body)).digest('base64url'))
      floor.get(key)
    })
    .add('first request: begin (claim) + complete, memory store', async () => {
      const begun = await layer.begin({
        req: view(`"k-${n++}"`),
        auth,
        body: { kind: 'parsed', value: body },
      })
      await (begun as { handle: IdempotencyHandle }).handle.complete(response)
    })
    .add('replay: begin, memory store', async () => {
      await layer.begin({ req: replayed, auth, body: { kind: 'parsed', value: body } })
    })
  await bench.run()
  report(bench, { baseline: 'floor: SHA-256 of the JSON body + Map set and get' })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
