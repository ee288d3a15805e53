// Cost of reading a secret where it is used: `secrets.X.current()` against a plain property read and a
// closure returning a captured string (what a hand-rolled "current value" holder costs).
//
// Run: pnpm --filter @zerotrust/secrets bench. BENCH_TIME (ms per task) overrides the default.
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import { Bench } from 'tinybench'
import { z } from 'zod'
import { env, loadSecrets } from '../src/index.js'

const time = envInteger('BENCH_TIME', 500)
const password = 'bench-password-0123456789-abcdefghijkl'
async function main(): Promise<void> {
  const secrets = await loadSecrets({
    schema: z.object({ DB_PASSWORD: z.string().min(32) }),
    sources: [env({ environment: { DB_PASSWORD: password } })],
  })
  const plain = { DB_PASSWORD: password }
  let captured = password
  const getter = () => captured
  // Sequential reads per sample, so the timer's own cost is spread over the batch.
  const batch = 1000
  let sink = 0

  const bench = new Bench(benchOptions(time, { warmupTime: 200 }))
  bench
    .add(`plain property read ×${batch}`, () => {
      for (let i = 0; i < batch; i += 1) sink += plain.DB_PASSWORD.length
    })
    .add(`closure getter ×${batch}`, () => {
      for (let i = 0; i < batch; i += 1) sink += getter().length
    })
    .add(`secrets.DB_PASSWORD.current() ×${batch}`, () => {
      for (let i = 0; i < batch; i += 1) sink += secrets.DB_PASSWORD.current().length
    })
    .add(`secrets.get('DB_PASSWORD').current() ×${batch}`, () => {
      for (let i = 0; i < batch; i += 1) sink += secrets.get('DB_PASSWORD').current().length
    })

  await bench.run()
  await secrets.close()
  captured = ''

  const tasks = bench.tasks.map((task) => task.name)
  report(bench, {
    title: `µs per read: each sample is ${batch} sequential reads`,
    baseline: tasks[0] as string,
    batches: Object.fromEntries(tasks.map((name) => [name, batch])),
  })
  if (sink === 0) console.log('unreachable')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
