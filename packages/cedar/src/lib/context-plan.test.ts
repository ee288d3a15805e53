import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { contextPlans } from './context-plan.js'
import { CedarPolicyError } from './sources.js'

// Issue 12: the default context is built from what the schema declares for each action, and a default
// attribute the schema declares with another type stops the start instead of denying every request.
const on = { defaultContext: true, time: true }
const action = (id: string, type = 'Action') => ({ type, id })
const noDefaults = {
  scopes: false,
  token: undefined,
  clientId: false,
  time: false,
  mtls: false,
  params: undefined,
}

function problemsOf(run: () => unknown): string[] {
  try {
    run()
  } catch (error) {
    if (error instanceof CedarPolicyError) return error.problems.map((problem) => problem.message)
    throw error
  }
  throw new Error('expected a CedarPolicyError')
}

describe('contextPlans (issue 12)', () => {
  it('carries every default attribute without a schema, none with "defaultContext: false"', () => {
    expect(contextPlans(undefined, on).forAction(action('GET /x'))).toEqual({
      scopes: true,
      token: ['scheme', 'format'],
      clientId: true,
      time: true,
      mtls: true,
      // Issue 15: the calling workload, when the request proved one.
      workload: ['id', 'trustDomain', 'path', 'proof'],
      params: true,
    })
    expect(
      contextPlans(undefined, { defaultContext: true, time: false }).forAction(action('GET /x')).time,
    ).toBe(false)
    expect(
      contextPlans(undefined, { defaultContext: false, time: true }).forAction(action('GET /x')),
    ).toEqual(noDefaults)
  })

  it('carries what the seed schema declares, through its common types', () => {
    const schema = readFileSync(new URL('../../test/fixtures/orders.cedarschema', import.meta.url), 'utf8')
    const plans = contextPlans(schema, on)
    expect(plans.forAction(action('GET /tenants/:tenant/orders/:orderId'))).toEqual({
      scopes: true,
      token: ['scheme', 'format'],
      clientId: true,
      time: true,
      mtls: true,
      params: ['orderId', 'tenant'],
    })
    expect(plans.time).toBe(true)
    // An action the schema does not declare, or of another type, gets nothing.
    expect(plans.forAction(action('GET /elsewhere'))).toEqual(noDefaults)
    expect(plans.forAction(action('POST /v1/charges', 'Other::Action'))).toEqual(noDefaults)
  })

  it('carries nothing for an action whose schema declares no context', () => {
    const plans = contextPlans(
      'entity User; entity Photo; action view appliesTo { principal: User, resource: Photo };',
      on,
    )
    expect(plans.forAction(action('view'))).toEqual(noDefaults)
    expect(plans.time).toBe(false)
  })

  it('carries only "scopes" where the schema declares only "scopes: Set<String>"', () => {
    const plans = contextPlans(
      'entity User; action read appliesTo { principal: User, resource: User, context: { scopes: Set<String>, ip?: ipaddr } };',
      on,
    )
    expect(plans.forAction(action('read'))).toEqual({ ...noDefaults, scopes: true })
  })

  it('carries the declared part of "token" and "params", in a namespace', () => {
    const plans = contextPlans(
      `namespace Orders {
        entity User;
        type Ctx = { token: { scheme: String, note?: Long }, params: { id: String }, mtls: Bool };
        action "GET /orders/:id" appliesTo { principal: User, resource: User, context: Ctx };
      }`,
      on,
    )
    expect(plans.forAction(action('GET /orders/:id', 'Orders::Action'))).toEqual({
      ...noDefaults,
      token: ['scheme'],
      params: ['id'],
      mtls: true,
    })
    expect(plans.forAction(action('GET /orders/:id'))).toEqual(noDefaults)
  })

  it('reads the JSON form: primitive keywords, __cedar names, common types', () => {
    const plans = contextPlans(
      {
        '': {
          commonTypes: {
            Scopes: { type: 'Set', element: { type: '__cedar::String' } },
            Ctx: {
              type: 'Record',
              attributes: {
                scopes: { type: 'Scopes' },
                mtls: { type: 'Bool' },
                clientId: { type: 'String', required: false },
                time: { type: 'Long' },
                params: { type: 'Record', attributes: { id: { type: 'EntityOrCommon', name: 'String' } } },
              },
            },
          },
          entityTypes: { User: {} },
          actions: {
            read: {
              appliesTo: { principalTypes: ['User'], resourceTypes: ['User'], context: { type: 'Ctx' } },
            },
          },
        },
      },
      on,
    )
    expect(plans.forAction(action('read'))).toEqual({
      scopes: true,
      token: undefined,
      clientId: true,
      time: true,
      mtls: true,
      params: ['id'],
    })
  })

  it('leaves out an optional "time" when the "time" option is false', () => {
    const plans = contextPlans(
      'entity User; action read appliesTo { principal: User, resource: User, context: { time?: Long } };',
      { defaultContext: true, time: false },
    )
    expect(plans.forAction(action('read'))).toEqual(noDefaults)
    expect(plans.time).toBe(false)
  })

  it('fails on each default attribute declared with another type, naming it and its action', () => {
    const problems = problemsOf(() =>
      contextPlans(
        `entity User;
        action "GET /orders/:id" appliesTo { principal: User, resource: User, context: {
          scopes: Set<Long>, mtls: String, clientId: Long, token: { scheme: Long, issuer: String }, params: { id: Long },
        } };
        action other appliesTo { principal: User, resource: User, context: { token: String, params: Set<String>, time: String } };`,
        on,
      ),
    )
    const get = 'action Action::"GET /orders/:id"'
    expect(problems).toEqual([
      expect.stringMatching(
        new RegExp(`^${get}: context attribute "scopes" is declared as Set<Long>, but .*Set<String>`),
      ),
      expect.stringMatching(new RegExp(`^${get}: context attribute "clientId" is declared as Long`)),
      expect.stringMatching(new RegExp(`^${get}: context attribute "mtls" is declared as String`)),
      expect.stringMatching(
        new RegExp(`^${get}: context attribute "token.issuer" is required by the schema`),
      ),
      expect.stringMatching(new RegExp(`^${get}: context attribute "token.scheme" is declared as Long`)),
      expect.stringMatching(new RegExp(`^${get}: context attribute "params.id" is declared as Long`)),
      expect.stringMatching(/^action Action::"other": context attribute "time" is declared as String/),
      expect.stringMatching(/^action Action::"other": context attribute "token" is declared as String/),
      expect.stringMatching(/^action Action::"other": context attribute "params" is declared as Set<String>/),
    ])
  })

  it('resolves names as Cedar does: an entity type named String shadows the built-in one', () => {
    const problems = problemsOf(() =>
      contextPlans(
        'namespace N { entity String; action a appliesTo { principal: String, resource: String, context: { scopes: Set<String> } }; }',
        on,
      ),
    )
    expect(problems).toEqual([
      expect.stringContaining(
        'action N::Action::"a": context attribute "scopes" is declared as Set<the entity type N::String>',
      ),
    ])
  })

  it('fails on a required "time" while the "time" option is false', () => {
    const problems = problemsOf(() =>
      contextPlans(
        'entity User; action read appliesTo { principal: User, resource: User, context: { time: Long } };',
        {
          defaultContext: true,
          time: false,
        },
      ),
    )
    expect(problems).toEqual([
      'action Action::"read": context attribute "time" is required by the schema, but the "time" option is false',
    ])
  })

  it('checks nothing with "defaultContext: false": the context option supplies the context', () => {
    const mismatched =
      'entity User; action read appliesTo { principal: User, resource: User, context: { scopes: Long, time: String } };'
    expect(contextPlans(mismatched, { defaultContext: false, time: true }).forAction(action('read'))).toEqual(
      noDefaults,
    )
  })
})
