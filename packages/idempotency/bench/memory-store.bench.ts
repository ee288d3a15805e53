// Cost of the memory store's operations as it fills (issue 23): a claim of a new key, a replay, and the
// two refusals (the whole store full; the caller at its share), at 10 000, 100 000 and 1 000 000 entries,
// next to their floor (a Map lookup of a missing key in a Map of as many entries). A refusal must cost
// about what a claim costs, whatever the store holds.
//
// Run: pnpm --filter @zerotrust/idempotency bench:store. BENCH_TIME (ms per task) overrides the default,
// BENCH_SIZES (comma-separated) the sizes.
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import { Bench } from 'tinybench'
import { memoryIdempotencyStore } from '../src/index.js'

const time = envInteger('BENCH_TIME', 500)
const sizes = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number)
const hour = 3_600_000
const response = {
  status: 201,
  headers: { 'content-type': 'application/json; charset=utf-8', location: '/payments/1' },
  body: new TextEncoder().encode('{"id":1,"amount":42,"currency":"EUR"}'),
}
const filler = { caller: 'filler' }
const other = { caller: 'other' }
// Room left beside the filler's share for the claims measured (each is released after it is timed).
const room = 1000

async function measure(entries: number): Promise<void> {
  // The filler holds its whole share of `entries` responses, younger than minRetention: none may go.
  const store = memoryIdempotencyStore({
    maxEntries: entries + room,
    maxEntriesPerCaller: entries,
    maxBytes: 4 * 1024 ** 3,
    maxBytesPerCaller: 4 * 1024 ** 3,
  })
  for (let i = 0; i < entries; i++) {
    const claim = await store.claim(`filled-${i}`, 'fp', hour, filler)
    if (claim.state !== 'claimed') throw new Error(`could not fill: ${claim.state}`)
    await store.complete(`filled-${i}`, claim.owner, response, 24 * hour)
  }
  const floor = new Map<string, number>()
  for (let i = 0; i < entries; i++) floor.set(`filled-${i}`, i)

  let n = 0
  let owner = ''
  let key = ''
  const expect = (state: string, got: { state: string }) => {
    if (got.state !== state) throw new Error(`expected ${state}, got ${got.state}`)
  }
  const first = new Bench(benchOptions(time))
  first
    .add('floor: Map get of a missing key', () => {
      floor.get(`new-${n++}`)
    })
    .add(
      'claim of a new key (another caller)',
      async () => {
        const claim = await store.claim(key, 'fp', hour, other)
        expect('claimed', claim)
        owner = (claim as { owner: string }).owner
      },
      {
        beforeEach: () => {
          key = `new-${n++}`
        },
        // Untimed: the store stays at its size.
        afterEach: async () => {
          await store.release(key, owner)
        },
      },
    )
    .add('replay of a completed key', async () => {
      expect('completed', await store.claim(`filled-${n++ % entries}`, 'fp', hour, filler))
    })
    .add('refusal: the caller at its share', async () => {
      expect('refused', await store.claim(`new-${n++}`, 'fp', hour, filler))
    })
  await first.run()

  // Now the whole store full: other callers' claims fill the room left.
  for (let i = 0; i < room; i++)
    expect('claimed', await store.claim(`room-${i}`, 'fp', hour, { caller: `c${i}` }))
  const full = new Bench(benchOptions(time))
  full.add('refusal: the whole store full (another caller)', async () => {
    expect('refused', await store.claim(`new-${n++}`, 'fp', hour, other))
  })
  await full.run()

  report([...first.tasks, ...full.tasks], {
    title: `${entries.toLocaleString('en')} entries, ${time} ms per task`,
    baseline: 'claim of a new key (another caller)',
  })
}

async function main(): Promise<void> {
  for (const entries of sizes) await measure(entries)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
