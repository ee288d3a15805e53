// Cost of one Cedar decision on a 100-policy set: cedar-wasm's `isAuthorized` with the policy text on
// every call (what @cedar-policy/authorization-for-expressjs does) next to cedar-wasm's pre-parsed
// `statefulIsAuthorized` alone and our authorizer; a decision-cache hit; and the cost of each entity
// that crosses into wasm (1, 10, 50 entities).
//
// Run: pnpm --filter @zerotrust/cedar bench. BENCH_TIME (ms per task) overrides the default;
// BENCH_NO_REMEDY=1 leaves V8's flags alone (`disableWasmCallInlining: false`), to compare;
// BENCH_TASKS runs only the tasks whose name holds it (`BENCH_TASKS=hit`: the floor and the cache hits).
import {
  type EntityJson,
  isAuthorized,
  preparsePolicySet,
  statefulIsAuthorized,
} from '@cedar-policy/cedar-wasm/nodejs'
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import type { Auth, RequestLike } from '@zerotrust/core'
import { Bench } from 'tinybench'
import { type CedarEntity, cedarAuthorizer } from '../src/index.js'

const time = envInteger('BENCH_TIME', 1000)
const only = process.env.BENCH_TASKS
// A cache hit costs about a microsecond, close to the clock's resolution: time it in batches too.
const batch = 100

// 100 policies: one permit per route action (96 routes of other resources), plus the 4 that decide here.
const policies: string[] = []
for (let i = 0; i < 96; i++) {
  policies.push(`@id("route-${i}")
permit (principal is User, action == Action::"GET /things-${i}/:id", resource is Thing)
when { resource.owner == principal && context.scopes.contains("things:read") };`)
}
policies.push(
  `@id("owners-read-orders")
permit (principal is User, action == Action::"GET /orders/:id", resource is Order)
when { resource.owner == principal };`,
  `@id("tenant-admins-read-orders")
permit (principal is User, action == Action::"GET /orders/:id", resource is Order)
when { principal.roles.contains("admin") && resource.tenant == principal.tenant };`,
  `@id("suspended")
forbid (principal is User, action, resource) when { principal has suspended && principal.suspended };`,
  `@id("payments")
permit (principal == Client::"payments-service", action == Action::"POST /v1/charges", resource);`,
)
const text = policies.join('\n\n')

const order = (id: string): CedarEntity => ({
  uid: { type: 'Order', id },
  attrs: {
    owner: { __entity: { type: 'User', id: 'alice' } },
    tenant: { __entity: { type: 'Tenant', id: 'acme' } },
    total: 4200,
  },
})
const baseEntities: CedarEntity[] = [
  order('o-1'),
  {
    uid: { type: 'User', id: 'alice' },
    attrs: { tenant: { __entity: { type: 'Tenant', id: 'acme' } }, roles: ['member'] },
    parents: [{ type: 'Group', id: 'staff' }],
  },
  { uid: { type: 'Tenant', id: 'acme' } },
  { uid: { type: 'Group', id: 'staff' } },
]
// Entities the decision does not read, standing for a loader that returns more than it needs.
const padding = (n: number): CedarEntity[] => Array.from({ length: n }, (_, i) => order(`pad-${i}`))

const req: RequestLike = {
  method: 'GET',
  origin: 'https://api.example.com',
  target: '/orders/o-1',
  path: '/orders/o-1',
  route: '/orders/:id',
  params: { id: 'o-1' },
  headerValues: () => [],
}
const auth: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: ['api://orders'],
  clientId: 'web-app',
  scopes: ['orders:read'],
  claims: {},
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: undefined,
  cnf: undefined,
}

function authorizer(entities: readonly CedarEntity[], cache = false) {
  return cedarAuthorizer({
    policies: { name: 'bench.cedar', text },
    resource: (r) => ({ type: 'Order', id: r.params?.id ?? '' }),
    entities: () => entities,
    disableWasmCallInlining: process.env.BENCH_NO_REMEDY !== '1',
    ...(cache ? { time: false, cache: { max: 1000 } } : {}),
  })
}

async function main(): Promise<void> {
  const ours = authorizer(baseEntities)
  const cached = authorizer(baseEntities, true)
  const sized = new Map([1, 10, 50].map((n) => [n, authorizer(padding(n))] as const))
  const first = await ours.authorize(req, auth)
  if (!first.allowed) throw new Error('the bench request must be allowed')
  await cached.authorize(req, auth)

  const call = {
    principal: { type: 'User', id: 'alice' },
    action: { type: 'Action', id: 'GET /orders/:id' },
    resource: { type: 'Order', id: 'o-1' },
    // The same context and entities our authorizer sends: cedar-wasm needs `attrs` and `parents` on each
    // entity (without them it fails fast, which would flatter the baseline).
    context: {
      scopes: ['orders:read'],
      token: { scheme: 'Bearer', format: 'jwt' },
      mtls: false,
      params: { id: 'o-1' },
      clientId: 'web-app',
      time: Math.floor(Date.now() / 1000),
    },
    entities: baseEntities.map((e) => ({
      uid: e.uid,
      attrs: e.attrs ?? {},
      parents: e.parents ?? [],
    })) as EntityJson[],
  }
  const raw = preparsePolicySet('bench-raw', { staticPolicies: text })
  if (raw.type !== 'success') throw new Error('the bench policies must parse')
  for (const answer of [
    isAuthorized({ ...call, policies: { staticPolicies: text } }),
    statefulIsAuthorized({ ...call, preparsedPolicySetId: 'bench-raw' }),
  ]) {
    if (answer.type !== 'success' || answer.response.decision !== 'allow') {
      throw new Error('the baselines must decide, and allow, the bench request')
    }
  }

  // The least a cache hit can cost: an async call that answers from a map.
  const answers = new Map([['key', first]])
  const key = 'key'
  const floor = async (k: string) => answers.get(k)

  const bench = new Bench(benchOptions(time, { warmupTime: 300 }))
  const add = (name: string, fn: () => unknown) => {
    if (only === undefined || name.includes(only) || name.startsWith('floor')) bench.add(name, fn)
  }
  add('cedar-wasm isAuthorized, 100 policies as text per call', () => {
    isAuthorized({ ...call, policies: { staticPolicies: text } })
  })
  add('cedar-wasm statefulIsAuthorized alone, 100 policies preparsed', () => {
    statefulIsAuthorized({ ...call, preparsedPolicySetId: 'bench-raw' })
  })
  add('cedarAuthorizer, 100 policies, 4 entities', () => ours.authorize(req, auth))
  add('floor: an async function answering from a Map', () => floor(key))
  add('cedarAuthorizer, decision-cache hit', () => cached.authorize(req, auth))
  add(`cedarAuthorizer, decision-cache hit (batches of ${batch})`, async () => {
    for (let i = 0; i < batch; i++) await cached.authorize(req, auth)
  })
  for (const [n, sizedAuthorizer] of sized) {
    add(`cedarAuthorizer, ${n} entities`, () => sizedAuthorizer.authorize(req, auth))
  }
  await bench.run()

  const hitBatch = `cedarAuthorizer, decision-cache hit (batches of ${batch})`
  const summaries = report(bench, { batches: { [hitBatch]: batch } })
  const mean = (name: string) => summaries.get(name)?.mean ?? Number.NaN
  const perText = mean('cedar-wasm isAuthorized, 100 policies as text per call')
  const oursMean = mean('cedarAuthorizer, 100 policies, 4 entities')
  const one = mean('cedarAuthorizer, 1 entities')
  const fifty = mean('cedarAuthorizer, 50 entities')
  if (only !== undefined) return
  console.log(`speed-up over policy text per call: ${(perText / oursMean).toFixed(1)}× (goal ≥ 5×)`)
  console.log(`per-entity cost (1 → 50 entities): ${((fifty - one) / 49).toFixed(2)} µs`)
}

await main()
