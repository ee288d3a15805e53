// Cost of one rateLimit check on the memory store, next to its floor: rate-limiter-flexible's
// RateLimiterMemory.consume alone on the same key. The difference is this package's own work (budget
// choice, identity key, decision). Run: pnpm --filter @zerotrust/ratelimit bench (BENCH_TIME ms per task).

import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import type { Auth, RequestLike } from '@zerotrust/core'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { Bench } from 'tinybench'
import { rateLimit } from '../src/index.js'

const time = envInteger('BENCH_TIME', 1000)
const auth: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: [],
  clientId: 'web-app',
  scopes: ['orders:read'],
  claims: {},
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: undefined,
  cnf: undefined,
}
const req: RequestLike = {
  method: 'GET',
  origin: undefined,
  target: '/orders',
  path: '/orders',
  headerValues: () => [],
}
const big = 1_000_000_000
const floor = new RateLimiterMemory({ points: big, duration: 3600 })
const ours = rateLimit({ budgets: [{ name: 'default', limit: big, windowSeconds: 3600 }] })
// The RateLimit fields of an allowed answer, left out: what `headers: 'denied'` saves per request.
const quiet = rateLimit({
  budgets: [{ name: 'default', limit: big, windowSeconds: 3600 }],
  headers: 'denied',
})
const routed = rateLimit({
  budgets: [
    { name: 'writes', route: 'POST /orders', limit: big, windowSeconds: 3600 },
    { name: 'gold', scope: 'plan:gold', limit: big, windowSeconds: 3600 },
    { name: 'default', limit: big, windowSeconds: 3600 },
  ],
})

const bench = new Bench(benchOptions(time, { warmupTime: 300 }))
bench
  .add('floor: RateLimiterMemory.consume', () => floor.consume('s:24:https://idp.example.com/alice'))
  .add('rateLimit check (memory, one budget)', () => ours.authorize(req, auth))
  .add("rateLimit check (memory, one budget, headers: 'denied')", () => quiet.authorize(req, auth))
  .add('rateLimit check (memory, third of three budgets)', () => routed.authorize(req, auth))
await bench.run()
report(bench)
