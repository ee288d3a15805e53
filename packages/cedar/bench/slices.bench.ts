// Entity slices (issue 14): what a decision costs as the entities and policies grow, next to cedar-wasm's
// own pre-parsed call with the same entities (the floor), and what each idea for lowering it buys.
//
// 1. The growth curve: 1, 10, 100, 1000 entities × 1, 100, 1000 policies. Per cell: the floor
//    (`statefulIsAuthorized` with every entity), and `cedarAuthorizer` with a loader that returns an array,
//    a `{ version, entities }` snapshot sent whole (`slice: false`), and the same snapshot sliced.
// 2. Decision-cache hits as the entities grow, keyed by every entity (array) or by the version.
// 3. The ideas, each measured against the floor at 100 entities: the shape of entity references, the
//    schema's checks per call, the JSON the glue writes per call, slicing, and fewer policies per call.
//
// Run: pnpm --filter @zerotrust/cedar bench (after cedar.bench.ts), or this file alone with
// `npx tsx bench/slices.bench.ts`. BENCH_ROUNDS (3) rounds, each running every task in turn for
// BENCH_SLICE_TIME ms (150), at least 5 calls; the tables give the median of the rounds' means.
import os from 'node:os'
import {
  type EntityJson,
  preparsePolicySet,
  preparseSchema,
  type StatefulAuthorizationCall,
  statefulIsAuthorized,
} from '@cedar-policy/cedar-wasm/nodejs'
import { envInteger, machineLine, markdownTable, micros, samplesOf, summarize } from '@zerotrust/benchkit'
import type { Auth, RequestLike } from '@zerotrust/core'
import { Bench } from 'tinybench'
import { type CedarEntity, cedarAuthorizer, type EntitiesResult } from '../src/index.js'

const rounds = envInteger('BENCH_ROUNDS', 3)
const time = envInteger('BENCH_SLICE_TIME', 150)
const batch = 100
const entityCounts = [1, 10, 100, 1000] as const
const policyCounts = [1, 100, 1000] as const
const remedy = process.env.BENCH_NO_REMEDY !== '1'

const ref = (type: string, id: string) => ({ __entity: { type, id } })
const order = (id: string, owner: string): CedarEntity => ({
  uid: { type: 'Order', id },
  attrs: { owner: ref('User', owner), tenant: ref('Tenant', 'acme'), total: 4200 },
})
/**
 * A store of `n` entities, as a loader holding a table would return it: the order the request reads, its
 * owner, her tenant and group, then other orders of other users.
 */
function store(n: number): CedarEntity[] {
  const head: CedarEntity[] = [
    order('o-0', 'alice'),
    {
      uid: { type: 'User', id: 'alice' },
      attrs: { tenant: ref('Tenant', 'acme'), roles: ['member'] },
      parents: [{ type: 'Group', id: 'staff' }],
    },
    { uid: { type: 'Tenant', id: 'acme' } },
    { uid: { type: 'Group', id: 'staff' } },
  ]
  const pad = Array.from({ length: Math.max(0, n - head.length) }, (_, i) => order(`pad-${i}`, `user-${i}`))
  return [...head, ...pad].slice(0, n)
}

// P policies: one permit that decides this request, and P - 1 permits for other routes.
function policyText(p: number): string {
  const policies: string[] = []
  for (let i = 0; i < p - 1; i++) {
    policies.push(`@id("route-${i}")
permit (principal is User, action == Action::"GET /things-${i}/:id", resource is Thing)
when { resource.owner == principal && context.scopes.contains("things:read") };`)
  }
  policies.push(`@id("owners-read-orders")
permit (principal is User, action == Action::"GET /orders/:id", resource is Order)
when { resource.owner == principal };`)
  return policies.join('\n\n')
}

const req: RequestLike = {
  method: 'GET',
  origin: 'https://api.example.com',
  target: '/orders/o-0',
  path: '/orders/o-0',
  route: '/orders/:id',
  params: { id: 'o-0' },
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
const now = Date.UTC(2026, 11, 3)
// The request our authorizer sends, for the floor's calls.
const request = {
  principal: { type: 'User', id: 'alice' },
  action: { type: 'Action', id: 'GET /orders/:id' },
  resource: { type: 'Order', id: 'o-0' },
  context: {
    scopes: ['orders:read'],
    token: { scheme: 'Bearer', format: 'jwt' },
    mtls: false,
    params: { id: 'o-0' },
    clientId: 'web-app',
    time: Math.floor(now / 1000),
  },
}
const json = (entities: readonly CedarEntity[]): EntityJson[] =>
  entities.map((e) => ({ uid: e.uid, attrs: e.attrs ?? {}, parents: e.parents ?? [] }) as EntityJson)

function authorizer(p: number, entities: () => EntitiesResult, extra: object = {}) {
  return cedarAuthorizer({
    policies: { name: `bench-${p}.cedar`, text: policyText(p) },
    resource: (r) => ({ type: 'Order', id: r.params?.id ?? '' }),
    entities,
    now: () => now,
    disableWasmCallInlining: remedy,
    ...extra,
  })
}

function floorCall(slot: string, entities: EntityJson[], extra: object = {}): StatefulAuthorizationCall {
  return { ...request, entities, preparsedPolicySetId: slot, ...extra } as StatefulAuthorizationCall
}

/** A task: its name, the table it goes to, and the call (sync or async) it times. */
interface Task {
  readonly name: string
  readonly fn: () => unknown
  readonly perCall?: number
}

const tasks: Task[] = []
const add = (name: string, fn: () => unknown, perCall = 1) => tasks.push({ name, fn, perCall })

for (const p of policyCounts) {
  const slot = `slices-${p}`
  const parsed = preparsePolicySet(slot, { staticPolicies: policyText(p) })
  if (parsed.type !== 'success') throw new Error('the bench policies must parse')
  for (const n of entityCounts) {
    const entities = store(n)
    const floor = floorCall(slot, json(entities))
    const snapshot = { version: `v${n}`, entities }
    const array = authorizer(p, () => entities)
    const whole = authorizer(p, () => snapshot, { slice: false })
    const sliced = authorizer(p, () => snapshot)
    add(`curve ${p}×${n} floor`, () => statefulIsAuthorized(floor))
    add(`curve ${p}×${n} array`, () => array.authorize(req, auth))
    add(`curve ${p}×${n} versioned`, () => whole.authorize(req, auth))
    add(`curve ${p}×${n} sliced`, () => sliced.authorize(req, auth))
  }
}

// Decision-cache hits: keyed by every entity (an array) or by the version.
for (const n of [1, 100, 1000]) {
  const entities = store(n)
  const snapshot = { version: 7, entities }
  const cached = { time: false, cache: { max: 1000 } }
  const array = authorizer(1, () => entities, cached)
  const versioned = authorizer(1, () => snapshot, cached)
  // Past about 1,000 entities an array's key weighs more than the cache takes: decided uncached.
  if (n < 1000) {
    add(
      `hit ${n} array`,
      async () => {
        for (let i = 0; i < batch; i++) await array.authorize(req, auth)
      },
      batch,
    )
  }
  add(
    `hit ${n} versioned`,
    async () => {
      for (let i = 0; i < batch; i++) await versioned.authorize(req, auth)
    },
    batch,
  )
}
// The least a hit can cost: an async call answering from a Map.
const answers = new Map([['key', { allowed: true }]])
const lookup = async (key: string) => answers.get(key)
add(
  'hit floor',
  async () => {
    for (let i = 0; i < batch; i++) await lookup('key')
  },
  batch,
)

// The ideas, at 100 entities and 1 policy (entities alone), with and without the schema.
const schema = `
entity Tenant; entity Group; entity Thing;
entity User in [Group] { tenant: Tenant, roles: Set<String> };
entity Order { owner: User, tenant: Tenant, total: Long };
type Token = { scheme: String, format: String };
action "GET /orders/:id" appliesTo { principal: [User], resource: [Order], context: {
  scopes: Set<String>, token: Token, mtls: Bool, params: { id: String }, clientId: String, time: Long } };
`
if (preparseSchema('slices-schema', schema).type !== 'success') throw new Error('the bench schema must parse')
{
  const entities = store(100)
  const explicit = json(entities)
  const uidsEscaped = explicit.map((e) => ({
    ...e,
    uid: { __entity: e.uid },
    parents: e.parents.map((parent) => ({ __entity: parent })),
  })) as EntityJson[]
  // With a schema, an attribute declared as an entity may be written without `__entity`.
  const implicit = explicit.map((e) => {
    const attrs: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(e.attrs)) {
      const inner = (value as { __entity?: unknown } | null)?.__entity
      attrs[name] = inner ?? value
    }
    return { ...e, attrs }
  }) as EntityJson[]
  // What the slice of this request is: the order, its owner and her group; what slicing by entities
  // alone would send (every attribute); and what slicing by attributes too sends.
  const reachable = explicit.filter((e) => {
    const { type, id } = e.uid as { type: string; id: string }
    return (type === 'Order' && id === 'o-0') || type === 'User' || type === 'Tenant' || type === 'Group'
  })
  const trimmed = reachable.map((e) => {
    const { type } = e.uid as { type: string }
    if (type === 'Order') return { ...e, attrs: { owner: e.attrs.owner } } as EntityJson
    return { ...e, attrs: {} } as EntityJson
  })
  const slot = 'slices-1'
  const withSchema = { preparsedSchemaName: 'slices-schema' }
  const call = floorCall(slot, explicit)
  add('idea floor, no schema', () => statefulIsAuthorized(call))
  add('idea uids and parents as { __entity }', () => statefulIsAuthorized(floorCall(slot, uidsEscaped)))
  add('idea schema, validateRequest', () =>
    statefulIsAuthorized(floorCall(slot, explicit, { ...withSchema, validateRequest: true })),
  )
  add('idea schema, no validateRequest', () =>
    statefulIsAuthorized(floorCall(slot, explicit, { ...withSchema, validateRequest: false })),
  )
  add('idea schema, implicit references', () =>
    statefulIsAuthorized(floorCall(slot, implicit, { ...withSchema, validateRequest: true })),
  )
  add('idea JSON.stringify of the call alone', () => JSON.stringify(call))
  add('idea reachable entities, every attribute', () => statefulIsAuthorized(floorCall(slot, reachable)))
  add('idea reachable entities, attributes read', () => statefulIsAuthorized(floorCall(slot, trimmed)))
  const snapshot = { version: 'v100', entities }
  const sliced = authorizer(1, () => snapshot)
  const slicedSchema = authorizer(1, () => snapshot, { schema: { text: schema } })
  add('idea ours sliced, no schema', () => sliced.authorize(req, auth))
  add('idea ours sliced, schema', () => slicedSchema.authorize(req, auth))
  // Fewer policies per call: 1000 pre-parsed against the one policy the action can match.
  add('idea 1000 policies, 4 entities', () => statefulIsAuthorized(floorCall('slices-1000', json(store(4)))))
  add('idea the action’s 1 policy, 4 entities', () => statefulIsAuthorized(floorCall(slot, json(store(4)))))
}

async function main(): Promise<void> {
  // Every task must decide the request, and allow it: a refusal would time the wrong thing.
  for (const task of tasks) {
    if (task.name.startsWith('idea JSON') || task.name.startsWith('hit')) continue
    let answer = task.fn()
    if (answer instanceof Promise) answer = await answer
    const allowed =
      (answer as { allowed?: boolean }).allowed ??
      ((answer as { type?: string; response?: { decision?: string } }).type === 'success' &&
        (answer as { response: { decision: string } }).response.decision === 'allow')
    if (!allowed) throw new Error(`${task.name}: the bench request must be allowed`)
  }
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')
  const loadBefore = load()
  const means = new Map<string, number[]>(tasks.map((task) => [task.name, []]))
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      time,
      iterations: 5,
      warmup: true,
      warmupTime: 30,
      warmupIterations: 2,
      throws: true,
      retainSamples: true,
    })
    for (const task of tasks) bench.add(task.name, task.fn)
    await bench.run()
    for (const task of tasks) {
      const run = bench.getTask(task.name)
      if (run === undefined) throw new Error(`${task.name} did not run`)
      means.get(task.name)?.push(summarize(samplesOf(run), task.perCall).mean)
    }
  }
  const median = (name: string) => {
    const values = [...(means.get(name) ?? [])].sort((a, b) => a - b)
    return values[Math.floor(values.length / 2)] ?? Number.NaN
  }
  const ms = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${micros(us)} µs`)
  console.log(machineLine())
  console.log(
    `load average ${loadBefore} before, ${load()} after; ${rounds} rounds, median of the rounds' means`,
  )
  console.log(`V8 flag --no-turbo-inline-js-wasm-calls ${remedy ? 'on' : 'off'}\n`)

  const curve = [...policyCounts].flatMap((p) =>
    entityCounts.map((n) => {
      const floor = median(`curve ${p}×${n} floor`)
      const sliced = median(`curve ${p}×${n} sliced`)
      return [
        String(p),
        String(n),
        ms(floor),
        ms(median(`curve ${p}×${n} array`)),
        ms(median(`curve ${p}×${n} versioned`)),
        ms(sliced),
        (sliced / floor).toFixed(2),
      ]
    }),
  )
  console.log(
    markdownTable(
      [
        ['policies', 'right'],
        ['entities', 'right'],
        ['floor', 'right'],
        ['array', 'right'],
        ['versioned, whole', 'right'],
        ['versioned, sliced', 'right'],
        ['sliced ÷ floor', 'right'],
      ],
      curve,
    ),
  )
  console.log()
  console.log(
    markdownTable(
      [
        ['decision-cache hit', 'left'],
        ['1 entity', 'right'],
        ['100 entities', 'right'],
        ['1000 entities', 'right'],
      ],
      [
        ['keyed by every entity (array)', ms(median('hit 1 array')), ms(median('hit 100 array')), 'uncached'],
        ['keyed by the version', ...[1, 100, 1000].map((n) => ms(median(`hit ${n} versioned`)))],
        ['floor: an async Map lookup', ms(median('hit floor')), '', ''],
      ],
    ),
  )
  console.log()
  const floor = median('idea floor, no schema')
  const ideas = tasks
    .filter((task) => task.name.startsWith('idea '))
    .map((task) => {
      const mean = median(task.name)
      return [task.name.slice(5), ms(mean), (mean / floor).toFixed(2)]
    })
  console.log(
    markdownTable(
      [
        ['100 entities, 1 policy', 'left'],
        ['mean', 'right'],
        ['÷ floor', 'right'],
      ],
      ideas,
    ),
  )
}

await main()
