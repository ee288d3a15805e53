import { type EntityJson, isAuthorized } from '@cedar-policy/cedar-wasm/nodejs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { routed, userAuth } from '../../test/helpers.js'
import { type CedarEntity, cedarAuthorizer } from '../index.js'
import { compilePolicies } from './compile.js'
import { preparseByAction } from './partition.js'

const schema = `
entity User { level: Long };
entity Doc { owner: User };
action readers;
action read, list in [readers] appliesTo { principal: [User], resource: [Doc] };
action write, remove appliesTo { principal: [User], resource: [Doc] };`

const actions = ['read', 'list', 'write', 'remove'] as const
const scopes = [
  'action == Action::"read"',
  'action == Action::"list"',
  'action == Action::"write"',
  'action == Action::"remove"',
  'action in [Action::"readers"]',
  'action in [Action::"read", Action::"write"]',
  'action',
] as const
const conditions = [
  '',
  'when { resource.owner == principal }',
  'when { principal.level > 2 }',
  // Errors where the owner is not among the entities.
  'when { resource.owner.level > 1 }',
] as const

const entities: CedarEntity[] = [
  { uid: { type: 'User', id: 'u1' }, attrs: { level: 3 } },
  { uid: { type: 'User', id: 'u2' }, attrs: { level: 1 } },
  { uid: { type: 'Doc', id: 'd1' }, attrs: { owner: { __entity: { type: 'User', id: 'u1' } } } },
  { uid: { type: 'Doc', id: 'd2' }, attrs: { owner: { __entity: { type: 'User', id: 'u9' } } } },
]
// Without a schema, the action hierarchy comes with the entities.
const actionEntities: CedarEntity[] = [
  { uid: { type: 'Action', id: 'read' }, parents: [{ type: 'Action', id: 'readers' }] },
  { uid: { type: 'Action', id: 'list' }, parents: [{ type: 'Action', id: 'readers' }] },
]

describe('policy sets pre-parsed per action', () => {
  it('splits by the action named with ==, each set with the policies that may match any action', () => {
    const compiled = compilePolicies(
      [
        {
          name: 'p',
          text: `@id("r") permit (principal, action == Action::"read", resource);
@id("w") permit (principal, action == Action::"write", resource);
@id("any") forbid (principal, action, resource) when { false };
@id("group") permit (principal, action in [Action::"readers"], resource);`,
        },
      ],
      undefined,
    )
    expect(compiled.byAction?.any).toEqual(['any', 'group'])
    expect([...(compiled.byAction?.named.keys() ?? [])]).toHaveLength(2)
    const sets = preparseByAction('partition-test', compiled, 0)
    expect(sets?.count).toBe(2)
    expect(sets?.rest).toBe('partition-test~rest')
    // A set of many actions and many policies that match any: left whole rather than copied 10× over.
    const wide = compilePolicies(
      [
        {
          name: 'wide',
          text: [
            ...Array.from(
              { length: 30 },
              (_, i) => `permit (principal, action == Action::"a${i}", resource);`,
            ),
            ...Array.from({ length: 30 }, () => 'permit (principal, action, resource) when { false };'),
          ].join('\n'),
        },
      ],
      undefined,
    )
    expect(preparseByAction('partition-wide', wide, 0)).toBeUndefined()
  })

  // Issue 14: deciding with the policies of the request's action only must answer as the whole set.
  it('decides as cedar-wasm does with the whole set, with and without a schema', async () => {
    const policy = fc.record({
      effect: fc.constantFrom('permit', 'forbid'),
      scope: fc.constantFrom(...scopes),
      condition: fc.constantFrom(...conditions),
    })
    const query = fc.record({
      principal: fc.constantFrom('u1', 'u2', 'u9'),
      action: fc.constantFrom(...actions),
      resource: fc.constantFrom('d1', 'd2'),
    })
    const seen = { allowed: 0, denied: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc.array(policy, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.array(query, { minLength: 1, maxLength: 8 }),
        async (generated, withSchema, queries) => {
          const policies: Record<string, string> = {}
          for (const [i, p] of generated.entries()) {
            policies[`p${i}`] = `${p.effect} (principal, ${p.scope}, resource) ${p.condition};`
          }
          const loaded = withSchema ? entities : [...entities, ...actionEntities]
          let current = queries[0] as (typeof queries)[number]
          const authorizer = cedarAuthorizer({
            policies: Object.entries(policies).map(([id, text]) => ({
              name: id,
              text: `@id("${id}") ${text}`,
            })),
            ...(withSchema ? { schema: { text: schema } } : {}),
            principal: () => ({ type: 'User', id: current.principal }),
            action: () => ({ type: 'Action', id: current.action }),
            resource: () => ({ type: 'Doc', id: current.resource }),
            defaultContext: false,
            entities: () => loaded,
          })
          for (current of queries) {
            const answer = isAuthorized({
              principal: { type: 'User', id: current.principal },
              action: { type: 'Action', id: current.action },
              resource: { type: 'Doc', id: current.resource },
              context: {},
              ...(withSchema ? { schema } : {}),
              policies: { staticPolicies: policies },
              entities: loaded.map((e) => ({ attrs: {}, parents: [], ...e })) as EntityJson[],
            })
            if (answer.type !== 'success') throw new Error('the generated requests are valid')
            const { decision, diagnostics } = answer.response
            const got = await authorizer.authorize(routed('GET', '/docs'), userAuth('ignored'))
            const label = JSON.stringify({ policies, current, withSchema })
            // Allowed exactly when Cedar allows with no policy erroring (an error denies, fail closed).
            expect(got.allowed, label).toBe(decision === 'allow' && diagnostics.errors.length === 0)
            expect([...(got.policies ?? [])].sort(), label).toEqual([...diagnostics.reason].sort())
            const erroring = (got.diagnostics ?? []).map((line) => /^policy "([^"]+)"/.exec(line)?.[1])
            expect(erroring.sort(), label).toEqual(diagnostics.errors.map((e) => e.policyId).sort())
            if (got.allowed) seen.allowed++
            else seen.denied++
          }
        },
      ),
      { numRuns: 60 },
    )
    expect(seen.allowed).toBeGreaterThan(0)
    expect(seen.denied).toBeGreaterThan(0)
  }, 120_000)
})
