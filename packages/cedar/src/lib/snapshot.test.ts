import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Decision } from '@zerotrust/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as seed from '../../test/fixtures/orders.js'
import { clientAuth, routed, userAuth } from '../../test/helpers.js'
import {
  type CedarAuthorizerOptions,
  type CedarEntity,
  type CedarValue,
  cedarAuthorizer,
  type EntityRef,
} from '../index.js'
import { entityKey, policyReads } from './reads.js'
import { slice, slicer, snapshotOf } from './snapshot.js'

/** The type of the values an arbitrary makes. */
type Infer<A> = A extends fc.Arbitrary<infer T> ? T : never

const fixtures = fileURLToPath(new URL('../../test/fixtures/', import.meta.url))

const ref = (type: string, id: string): EntityRef => ({ type, id })
const to = (type: string, id: string) => ({ __entity: ref(type, id) })

/** What must not change with slicing: the answer, the policies named, the reason and the diagnostics. */
function outcome(decision: Decision) {
  if (decision.allowed) return { allowed: true, policies: [...(decision.policies ?? [])].sort() }
  return {
    allowed: false,
    reason: decision.error.reason,
    // The engine reports errors in no fixed order. An engine refusal of the entities may be worded
    // otherwise when the request is refused too (the whole version is checked first).
    diagnostics:
      decision.error.reason === 'invalid_request' ? undefined : [...(decision.diagnostics ?? [])].sort(),
    policies: [...(decision.policies ?? [])].sort(),
  }
}

describe('slicing a versioned snapshot', () => {
  const reads = policyReads([
    {
      effect: 'permit',
      principal: { op: 'All' },
      action: { op: '==', entity: { type: 'Action', id: 'read' } },
      resource: { op: 'All' },
      conditions: [
        {
          kind: 'when',
          body: {
            '&&': {
              left: { '.': { left: { Var: 'resource' }, attr: 'owner' } },
              right: { has: { left: { Value: { __entity: ref('Config', 'global') } }, attr: ['open', 'x'] } },
            },
          },
        },
      ],
    },
  ])

  it('reads the attribute names, tags and literal entities of the policies', () => {
    expect(reads).toBeDefined()
    expect([...(reads?.attributes ?? [])].sort()).toEqual(['open', 'owner', 'x'])
    expect(reads?.tags).toBe(false)
    expect([...(reads?.literals ?? [])].sort()).toEqual(
      [entityKey('Action', 'read'), entityKey('Config', 'global')].sort(),
    )
    expect(policyReads([undefined])).toBeUndefined()
  })

  it('sends what the request reaches: attributes read, ancestors with their parents only', () => {
    const snapshot = snapshotOf(
      [
        { uid: ref('Doc', 'd1'), attrs: { owner: to('User', 'u1'), size: 3, friend: to('User', 'u9') } },
        {
          uid: ref('User', 'u1'),
          attrs: { name: 'a', owner: to('User', 'u2') },
          parents: [ref('Group', 'g1')],
        },
        { uid: ref('User', 'u2'), attrs: { name: 'b' } },
        { uid: ref('User', 'u9'), attrs: { name: 'never reached' } },
        {
          uid: ref('Group', 'g1'),
          attrs: { label: 'x', owner: to('User', 'u9') },
          parents: [ref('Group', 'g2')],
        },
        { uid: ref('Group', 'g2'), attrs: { label: 'y' } },
        { uid: ref('Config', 'global'), attrs: { open: true, other: 1 } },
        { uid: ref('Doc', 'd2'), attrs: { owner: to('User', 'u1') } },
      ],
      slicer('unused', reads, undefined),
    )
    const sent = slice(snapshot, [
      entityKey('User', 'u1'),
      entityKey('Action', 'read'),
      entityKey('Doc', 'd1'),
    ])
    const byId = new Map(sent.map((e) => [(e.uid as EntityRef).id, e]))
    expect([...byId.keys()].sort()).toEqual(['d1', 'g1', 'g2', 'global', 'u1', 'u2'])
    expect(byId.get('d1')?.attrs).toEqual({ owner: to('User', 'u1') })
    expect(byId.get('u1')?.attrs).toEqual({ owner: to('User', 'u2') })
    expect(byId.get('u1')?.parents).toEqual([ref('Group', 'g1')])
    // An ancestor is needed for `in` only: its parents, none of its attributes (nor what they name).
    expect(byId.get('g1')).toEqual({ uid: ref('Group', 'g1'), attrs: {}, parents: [ref('Group', 'g2')] })
    expect(byId.get('global')?.attrs).toEqual({ open: true })
  })

  it('starts from the entities the context names', () => {
    const snapshot = snapshotOf(
      [{ uid: ref('User', 'u3'), attrs: { owner: 1 } }],
      slicer('unused', reads, undefined),
    )
    expect(slice(snapshot, [])).toEqual([])
    expect(slice(snapshot, [entityKey('User', 'u3')])).toHaveLength(1)
  })

  it('keeps the engine’s refusal of the whole version: an entity no request reaches still counts', () => {
    const snapshot = snapshotOf(
      [
        { uid: ref('Doc', 'd1'), attrs: {} },
        { uid: ref('Doc', 'd1'), attrs: { size: 1 } },
      ],
      slicer('unused', reads, undefined),
    )
    expect(snapshot.refused?.length).toBeGreaterThan(0)
  })
})

// Issue 14: slicing must never change a decision. Each generated world of entities is decided three
// ways, with the loader's array (the reference), a `{ version, entities }` snapshot sent whole, and the
// same snapshot sliced, and the three outcomes must be equal.
describe('issue 14: slicing never changes a decision', () => {
  const names = ['alice', 'bob', 'carol', 'mallory', 'dave'] as const
  const orderIds = ['o-0', 'o-1', 'o-2', 'o-3'] as const
  const tenants = ['acme', 'globex'] as const
  const day = 86_400
  const nowSeconds = Math.floor(seed.now / 1000)

  const user = fc.record({
    tenant: fc.constantFrom(...tenants),
    roles: fc.subarray(['admin', 'member']),
    suspended: fc.option(fc.boolean(), { nil: undefined }),
  })
  const order = fc.record({
    tenant: fc.constantFrom(...tenants),
    owner: fc.constantFrom(...names),
    age: fc.constantFrom(1, 10, 120),
  })
  const seedWorld = fc.record({
    users: fc.dictionary(fc.constantFrom(...names), user),
    orders: fc.dictionary(fc.constantFrom(...orderIds), order),
    tenants: fc.subarray([...tenants]),
    // Now and then, data the schema refuses somewhere no request looks: a user without roles.
    broken: fc.constantFrom(false, false, false, false, true),
  })
  const seedRequest = fc.record({
    who: fc.constantFrom(...names, 'payments-service'),
    route: fc.constantFrom('read', 'refund', 'charge'),
    orderId: fc.constantFrom(...orderIds, 'o-9'),
    scopes: fc.subarray(['orders:refund', 'orders:read']),
  })

  function seedEntities(world: Infer<typeof seedWorld>): CedarEntity[] {
    const entities: CedarEntity[] = []
    for (const [id, u] of Object.entries(world.users)) {
      entities.push({
        uid: ref('User', id),
        attrs: {
          tenant: to('Tenant', u.tenant),
          roles: u.roles,
          ...(u.suspended === undefined ? {} : { suspended: u.suspended }),
        },
      })
    }
    for (const [id, o] of Object.entries(world.orders)) {
      entities.push({
        uid: ref('Order', id),
        attrs: {
          tenant: to('Tenant', o.tenant),
          owner: to('User', o.owner),
          createdAt: nowSeconds - o.age * day,
        },
      })
    }
    for (const id of world.tenants) entities.push({ uid: ref('Tenant', id) })
    if (world.broken) entities.push({ uid: ref('User', 'zed'), attrs: { tenant: to('Tenant', 'acme') } })
    return entities
  }

  it('over the seed policies and schema', async () => {
    let entities: CedarEntity[] = []
    let version = 0
    const options = (extra: object): CedarAuthorizerOptions => ({
      policies: { dir: join(fixtures, 'policies') },
      schema: { file: join(fixtures, 'orders.cedarschema') },
      resource: seed.resource,
      now: () => seed.now,
      ...extra,
    })
    const reference = cedarAuthorizer(options({ entities: () => entities }))
    const whole = cedarAuthorizer(options({ entities: () => ({ version, entities }), slice: false }))
    const sliced = cedarAuthorizer(options({ entities: () => ({ version, entities }) }))
    const seen = { allowed: 0, denied: 0, refused: 0 }
    await fc.assert(
      fc.asyncProperty(
        seedWorld,
        fc.array(seedRequest, { minLength: 1, maxLength: 6 }),
        async (world, requests) => {
          entities = seedEntities(world)
          version++
          for (const r of requests) {
            const req =
              r.route === 'charge'
                ? routed('POST', '/v1/charges')
                : routed(
                    r.route === 'read' ? 'GET' : 'POST',
                    `/tenants/:tenant/orders/:orderId${r.route === 'refund' ? '/refund' : ''}`,
                    {
                      tenant: 'acme',
                      orderId: r.orderId,
                    },
                  )
            const auth = r.who === 'payments-service' ? clientAuth(r.who) : userAuth(r.who, r.scopes)
            const want = outcome(await reference.authorize(req, auth))
            expect(outcome(await whole.authorize(req, auth))).toEqual(want)
            expect(outcome(await sliced.authorize(req, auth))).toEqual(want)
            if (want.allowed) seen.allowed++
            else if (want.reason === 'invalid_request') seen.refused++
            else seen.denied++
          }
        },
      ),
      { numRuns: 80 },
    )
    // Every kind of answer was compared, not only denials.
    expect(seen.allowed).toBeGreaterThan(0)
    expect(seen.denied).toBeGreaterThan(0)
    expect(seen.refused).toBeGreaterThan(0)
  }, 120_000)

  // Without a schema: group hierarchies (cycles too, which the engine refuses), chains of references,
  // tags, an entity named by a policy, one named by the context, and attributes that error when absent.
  const policies = {
    admins: 'permit (principal in Group::"admins", action == Action::"read", resource);',
    owners:
      'permit (principal, action, resource is Doc) when { resource has owner && resource.owner == principal };',
    managers: `permit (principal, action == Action::"read", resource is Doc)
when { resource has owner && resource.owner has manager && resource.owner.manager == principal };`,
    blocked: 'forbid (principal, action, resource) when { principal has blocked && principal.blocked };',
    open: `permit (principal, action == Action::"read", resource)
when { Config::"global" has open && Config::"global".open };`,
    tagged: `permit (principal, action == Action::"read", resource)
when { resource.hasTag("public") && resource.getTag("public") == true };`,
    delegates: `permit (principal, action, resource)
when { context has delegate && context.delegate has level && context.delegate.level > 3 };`,
    teams: 'permit (principal, action == Action::"write", resource) when { resource in principal.team };',
  }
  const users = ['u0', 'u1', 'u2', 'u3'] as const
  const groups = ['admins', 'g1', 'g2', 'g3'] as const
  const docs = ['d0', 'd1', 'd2'] as const
  const userRef = fc.constantFrom(...users).map((id) => to('User', id))
  const plainUser = fc.record(
    {
      blocked: fc.boolean(),
      manager: userRef,
      team: fc.constantFrom(...groups).map((id) => to('Group', id)),
      level: fc.integer({ min: 0, max: 6 }),
      note: fc.string({ maxLength: 3 }),
    },
    { requiredKeys: [] },
  )
  const world = fc.record({
    users: fc.dictionary(
      fc.constantFrom(...users),
      fc.record({ attrs: plainUser, parents: fc.subarray([...groups], { maxLength: 1 }) }),
    ),
    // Chains of groups more than one deep, and now and then a cycle.
    groups: fc.dictionary(fc.constantFrom(...groups), fc.subarray([...groups], { maxLength: 1 })),
    docs: fc.dictionary(
      fc.constantFrom(...docs),
      fc.record({
        owner: fc.option(userRef, { nil: undefined }),
        public: fc.option(fc.boolean(), { nil: undefined }),
        parents: fc.subarray([...groups]),
        size: fc.integer({ min: 0, max: 9 }),
      }),
    ),
    config: fc.option(
      fc.record({ open: fc.boolean(), note: fc.string({ maxLength: 2 }) }, { requiredKeys: [] }),
      {
        nil: undefined,
      },
    ),
    duplicate: fc.constantFrom(false, false, false, false, false, false, true),
  })
  const request = fc.record({
    principal: fc.constantFrom(...users, 'nobody'),
    action: fc.constantFrom('read', 'write'),
    resource: fc.constantFrom(...docs, 'd9'),
    delegate: fc.option(fc.constantFrom(...users), { nil: undefined }),
  })

  function entitiesOf(w: Infer<typeof world>): CedarEntity[] {
    const out: CedarEntity[] = []
    for (const [id, u] of Object.entries(w.users)) {
      out.push({
        uid: ref('User', id),
        attrs: u.attrs as Record<string, CedarValue>,
        parents: u.parents.map((g) => ref('Group', g)),
      })
    }
    for (const [id, parents] of Object.entries(w.groups)) {
      out.push({ uid: ref('Group', id), attrs: { label: id }, parents: parents.map((g) => ref('Group', g)) })
    }
    for (const [id, d] of Object.entries(w.docs)) {
      out.push({
        uid: ref('Doc', id),
        attrs: { size: d.size, ...(d.owner === undefined ? {} : { owner: d.owner }) },
        parents: d.parents.map((g) => ref('Group', g)),
        ...(d.public === undefined ? {} : { tags: { public: d.public } }),
      })
    }
    if (w.config !== undefined) out.push({ uid: ref('Config', 'global'), attrs: w.config })
    // Two entries of one entity that differ: the engine refuses the whole set.
    if (w.duplicate && out[0] !== undefined)
      out.push({ ...out[0], attrs: { ...out[0].attrs, note: 'another' } })
    return out
  }

  it('over hierarchies, tags, chains, literals and the context, without a schema', async () => {
    let entities: CedarEntity[] = []
    let version = 'v0'
    let query: Infer<typeof request> = {
      principal: 'u0',
      action: 'read',
      resource: 'd0',
      delegate: undefined,
    }
    const options = (extra: object): CedarAuthorizerOptions => ({
      policies: Object.entries(policies).map(([id, text]) => ({ name: id, text: `@id("${id}") ${text}` })),
      principal: () => ref('User', query.principal),
      action: () => ref('Action', query.action),
      resource: () => ref('Doc', query.resource),
      defaultContext: false,
      context: () => (query.delegate === undefined ? {} : { delegate: to('User', query.delegate) }),
      ...extra,
    })
    const reference = cedarAuthorizer(options({ entities: () => entities }))
    const whole = cedarAuthorizer(options({ entities: () => ({ version, entities }), slice: false }))
    const sliced = cedarAuthorizer(options({ entities: () => ({ version, entities }) }))
    const seen = { allowed: 0, denied: 0, errored: 0, refused: 0 }
    let run = 0
    await fc.assert(
      fc.asyncProperty(world, fc.array(request, { minLength: 1, maxLength: 6 }), async (w, queries) => {
        entities = entitiesOf(w)
        version = `v${++run}`
        for (query of queries) {
          const req = routed('GET', '/docs')
          const auth = userAuth('ignored')
          const want = outcome(await reference.authorize(req, auth))
          expect(outcome(await whole.authorize(req, auth))).toEqual(want)
          expect(outcome(await sliced.authorize(req, auth))).toEqual(want)
          if (want.allowed) seen.allowed++
          else if (want.reason === 'invalid_request') seen.refused++
          else if ((want.diagnostics?.length ?? 0) > 0) seen.errored++
          else seen.denied++
        }
      }),
      { numRuns: 300 },
    )
    expect(seen.allowed).toBeGreaterThan(0)
    expect(seen.denied).toBeGreaterThan(0)
    expect(seen.errored).toBeGreaterThan(0)
    expect(seen.refused).toBeGreaterThan(0)
  }, 120_000)
})
