// Entity slices (issue 14): what a decision costs as the entities and policies grow, next to cedar-wasm's
// own pre-parsed call with the same entities (the floor), and what each idea for lowering it buys.
//
// 1. The growth curve: 1, 10, 100, 1000 entities × 1, 100, 1000 policies. Per cell: the floor
//    (`statefulIsAuthorized` with every entity), and `cedarAuthorizer` with a loader that returns an array,
//    a `{ version, entities }` snapshot sent whole (`slice: false`), and the same snapshot sliced.
// 2. Decision-cache hits as the entities grow, keyed by every entity (array) or by the version.
// 3. The ideas at 100 entities, each run right after its baseline: the shape of entity references, the
//    schema's checks per call, the JSON the glue writes per call, slicing, and fewer policies per call.
//
// Run: pnpm --filter @zerotrust/cedar bench (after cedar.bench.ts), or this file alone with
// `npx tsx bench/slices.bench.ts`. BENCH_ROUNDS (3) rounds, each running every task in turn for
// BENCH_SLICE_TIME ms (150), at least 5 calls. The tables give the median over the rounds of each task's
// p50 (on a shared machine a preempted call inflates a mean far more than a median), and each ratio is
// the median of the ratios within a round (neighbouring tasks see the same load).
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
// BENCH_ONLY=curve, hit or idea runs that part alone.
const only = process.env.BENCH_ONLY

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
/** An idea and the baseline it is compared with. */
interface Idea {
  readonly name: string
  readonly base: string
  readonly baseFn: () => unknown
  readonly fn: () => unknown
}
const ideas: Idea[] = []
const idea = (name: string, base: string, baseFn: () => unknown, fn: () => unknown) =>
  ideas.push({ name, base, baseFn, fn })

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
  // A policy that reads four context attributes, so the key holds a context as a real one would.
  const cached = {
    time: false,
    cache: { max: 1000 },
    policies: {
      name: 'hit.cedar',
      text: `permit (principal is User, action == Action::"GET /orders/:id", resource is Order)
when { resource.owner == principal && context.scopes.contains("orders:read") &&
  context.token.scheme == "Bearer" && context.params.id == "o-0" && !context.mtls };`,
    },
  }
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
  const floor = () => statefulIsAuthorized(floorCall(slot, explicit))
  const snapshot = { version: 'v100', entities }
  const sliced = authorizer(1, () => snapshot)
  const slicedSchema = authorizer(1, () => snapshot, { schema: { text: schema } })
  const schemaCall =
    (entities: EntityJson[], validateRequest = true) =>
    () =>
      statefulIsAuthorized(floorCall(slot, entities, { ...withSchema, validateRequest }))
  // Each idea runs right after its own baseline, so the two see the same load; the table gives the
  // median of the rounds' ratios.
  idea('uids and parents as { __entity }', 'floor', floor, () =>
    statefulIsAuthorized(floorCall(slot, uidsEscaped)),
  )
  idea('schema, validateRequest (every check)', 'floor', floor, schemaCall(explicit))
  idea(
    'schema, no validateRequest',
    'schema, validateRequest',
    schemaCall(explicit),
    schemaCall(explicit, false),
  )
  idea('schema, implicit entity references', 'schema, explicit', schemaCall(explicit), schemaCall(implicit))
  idea('JSON.stringify of the call alone', 'floor', floor, () => JSON.stringify(floorCall(slot, explicit)))
  idea('reachable entities, every attribute', 'floor', floor, () =>
    statefulIsAuthorized(floorCall(slot, reachable)),
  )
  idea('reachable entities, attributes read', 'floor', floor, () =>
    statefulIsAuthorized(floorCall(slot, trimmed)),
  )
  idea('ours, versioned and sliced', 'floor', floor, () => sliced.authorize(req, auth))
  idea('ours, versioned and sliced, with the schema', 'floor', floor, () => slicedSchema.authorize(req, auth))
  // Fewer policies per call: 1000 pre-parsed against the one policy the action can match.
  idea(
    'the action’s 1 policy, 4 entities',
    '1000 policies, 4 entities',
    () => statefulIsAuthorized(floorCall('slices-1000', json(store(4)))),
    () => statefulIsAuthorized(floorCall(slot, json(store(4)))),
  )
}

async function main(): Promise<void> {
  // Every task must decide the request, and allow it: a refusal would time the wrong thing.
  const checked = [
    ...tasks,
    ...ideas.flatMap(({ name, baseFn, fn }) => [
      { name: `${name} (baseline)`, fn: baseFn },
      { name, fn },
    ]),
  ]
  for (const task of checked) {
    if (task.name.startsWith('JSON') || task.name.startsWith('hit')) continue
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
    for (const task of tasks)
      if (only === undefined || task.name.startsWith(only)) bench.add(task.name, task.fn)
    await bench.run()
    for (const task of tasks) {
      const run = bench.getTask(task.name)
      if (run === undefined) continue
      means.get(task.name)?.push(summarize(samplesOf(run), task.perCall).p50)
    }
  }
  const median = (name: string) => {
    const values = [...(means.get(name) ?? [])].sort((a, b) => a - b)
    return values[Math.floor(values.length / 2)] ?? Number.NaN
  }
  const ms = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${micros(us)} µs`)
  console.log(machineLine())
  console.log(
    `load average ${loadBefore} before, ${load()} after; ${rounds} rounds, median of the rounds' p50`,
  )
  console.log(`V8 flag --no-turbo-inline-js-wasm-calls ${remedy ? 'on' : 'off'}\n`)

  const curve = [...policyCounts].flatMap((p) =>
    entityCounts.map((n) => {
      const floor = median(`curve ${p}×${n} floor`)
      const sliced = median(`curve ${p}×${n} sliced`)
      const ratios = (means.get(`curve ${p}×${n} sliced`) ?? [])
        .map((mean, round) => mean / (means.get(`curve ${p}×${n} floor`)?.[round] ?? Number.NaN))
        .sort((a, b) => a - b)
      return [
        String(p),
        String(n),
        ms(floor),
        ms(median(`curve ${p}×${n} array`)),
        ms(median(`curve ${p}×${n} versioned`)),
        ms(sliced),
        (ratios[Math.floor(ratios.length / 2)] ?? Number.NaN).toFixed(3),
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
  // Each idea and its baseline run as a pair, for BENCH_PAIR_TIME ms each (40), in BENCH_PAIR_ROUNDS
  // rounds (9): close enough in time to share the machine's load, and the ratio is the median of the
  // rounds' ratios of p50.
  const pairRounds = envInteger('BENCH_PAIR_ROUNDS', 9)
  const pairTime = envInteger('BENCH_PAIR_TIME', 40)
  const rows: string[][] = []
  for (const { name, base, baseFn, fn } of only === undefined || only === 'idea' ? ideas : []) {
    const bases: number[] = []
    const values: number[] = []
    const ratios: number[] = []
    for (let round = 0; round < pairRounds; round++) {
      const pair = new Bench({
        time: pairTime,
        iterations: 3,
        warmupIterations: 1,
        warmupTime: 5,
        retainSamples: true,
      })
      // Which of the two runs first alternates, so neither always follows the other.
      const order = round % 2 === 0 ? ['base', 'idea'] : ['idea', 'base']
      for (const which of order) pair.add(which, which === 'base' ? baseFn : fn)
      await pair.run()
      const p50 = (which: string) => {
        const task = pair.getTask(which)
        if (task === undefined) throw new Error(`${name}: ${which} did not run`)
        return summarize(samplesOf(task)).p50
      }
      bases.push(p50('base'))
      values.push(p50('idea'))
      ratios.push(p50('idea') / p50('base'))
    }
    const mid = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? Number.NaN
    rows.push([name, base, ms(mid(bases)), ms(mid(values)), mid(ratios).toFixed(2)])
  }
  console.log(`load average ${load()} after the pairs`)
  console.log(
    markdownTable(
      [
        ['idea (100 entities, 1 policy)', 'left'],
        ['against', 'left'],
        ['against: p50', 'right'],
        ['idea: p50', 'right'],
        ['ratio', 'right'],
      ],
      rows,
    ),
  )
}

await main()
