// Cost of otelDecisions per event with no SDK registered (the API's no-op provider), next to an empty
// sink. Run: pnpm --filter @zerotrust/otel bench (BENCH_TIME ms per task).

import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import type { DecisionEvent } from '@zerotrust/core'
import { Bench } from 'tinybench'
import { otelDecisions } from '../src/index.js'

const time = envInteger('BENCH_TIME', 1000)
const event: DecisionEvent = {
  layer: 'jwt',
  outcome: 'deny',
  code: 'invalid_token',
  reason: 'expired',
  status: 401,
  subject: 'alice',
  method: 'GET',
  path: '/orders',
  durationMs: 0.4,
}
const sink = otelDecisions()
let seen = 0
const empty = (e: DecisionEvent) => {
  seen += e.durationMs
}
const bench = new Bench(benchOptions(time, { warmupTime: 300 }))
bench.add('floor: an empty sink', () => empty(event)).add('otelDecisions, no-op provider', () => sink(event))
await bench.run()
report(bench)
if (seen < 0) throw new Error('unreachable')
