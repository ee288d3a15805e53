import { isAuthorized } from '@cedar-policy/cedar-wasm/nodejs'
import type { RequestLike } from '@zerotrust/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { routed, userAuth } from '../../test/helpers.js'
import { cedarAuthorizer } from '../index.js'
import { contextPlans } from './context-plan.js'
import { readPlans } from './read-plans.js'
import { policyReads } from './reads.js'

const action = { type: 'Action', id: 'GET /x' }
const reading = (...attributes: string[]) => ({
  attributes: new Set(attributes),
  tags: false,
  wholeContext: false,
  literals: [],
})

describe('the default context without a schema carries what the policies read (issue 14)', () => {
  it('keeps "scopes", so a token past "maxScopes" is refused whatever the policies read', async () => {
    const authorizer = cedarAuthorizer({ policies: { text: 'permit (principal, action, resource);' } })
    const decision = await authorizer.authorize(
      routed('GET', '/x'),
      userAuth(
        'u',
        Array.from({ length: 300 }, (_, i) => `s${i}`),
      ),
    )
    expect(decision.allowed).toBe(false)
    if (!decision.allowed) expect(decision.error.reason).toBe('too_many_scopes')
  })

  const all = contextPlans(undefined, { defaultContext: true, time: true })

  it('leaves out each default attribute no policy names', () => {
    const plans = readPlans(all, reading('params', 'owner'))
    expect(plans.forAction(action)).toMatchObject({
      // Kept though no policy reads them: the token's scopes are bounded whatever the policies read.
      scopes: true,
      token: undefined,
      clientId: false,
      time: false,
      mtls: false,
      params: true,
    })
    expect(plans.time).toBe(false)
    expect(plans.key).not.toBe(all.key)
    expect(readPlans(all, reading('time')).time).toBe(true)
  })

  it('keeps every attribute where a policy uses the context whole, or could not be read', () => {
    expect(readPlans(all, { ...reading(), wholeContext: true })).toBe(all)
    expect(readPlans(all, undefined)).toBe(all)
    const whole = policyReads([
      {
        effect: 'permit',
        principal: { op: 'All' },
        action: { op: 'All' },
        resource: { op: 'All' },
        conditions: [{ kind: 'when', body: { '==': { left: { Var: 'context' }, right: { Record: {} } } } }],
      },
    ])
    expect(whole?.wholeContext).toBe(true)
    const read = policyReads([
      {
        effect: 'permit',
        principal: { op: 'All' },
        action: { op: 'All' },
        resource: { op: 'All' },
        conditions: [{ kind: 'when', body: { has: { left: { Var: 'context' }, attr: 'time' } } }],
      },
    ])
    expect(read?.wholeContext).toBe(false)
  })

  // Each generated policy set decides each generated request as cedar-wasm does with every default
  // attribute in the context.
  it('never changes a decision', async () => {
    const menu = [
      'permit (principal, action, resource) when { context.scopes.contains("a") };',
      'permit (principal, action, resource) when { context.token.scheme == "DPoP" };',
      'forbid (principal, action, resource) when { context.mtls };',
      'permit (principal, action, resource) when { context has clientId && context.clientId == "web" };',
      'permit (principal, action, resource) when { context.time > 1000 };',
      'permit (principal, action, resource) when { context.params.id == "7" };',
      'permit (principal, action, resource) when { context has token };',
      'forbid (principal, action, resource) when { context has nothing };',
      'permit (principal, action, resource) when { context.token.format == "opaque" };',
      // Errors where the route has no "other" parameter.
      'forbid (principal, action, resource) when { context.params.other == "x" };',
      'permit (principal, action, resource) when { context == { scopes: ["a"] } };',
      'permit (principal, action, resource) when { [context].contains(context) && context.scopes.isEmpty() };',
    ]
    const request = fc.record({
      scopes: fc.subarray(['a', 'b']),
      scheme: fc.constantFrom('Bearer', 'DPoP'),
      format: fc.constantFrom('jwt', 'opaque'),
      clientId: fc.option(fc.constantFrom('web', 'cli'), { nil: undefined }),
      id: fc.constantFrom('7', '8'),
      mtls: fc.boolean(),
      seconds: fc.constantFrom(999, 1001),
    })
    const seen = { allowed: 0, denied: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(menu, { minLength: 1, maxLength: 4 }),
        fc.array(request, { minLength: 1, maxLength: 6 }),
        async (chosen, requests) => {
          const policies: Record<string, string> = {}
          for (const [i, text] of chosen.entries()) policies[`p${i}`] = text
          let seconds = 0
          const authorizer = cedarAuthorizer({
            policies: Object.entries(policies).map(([id, text]) => ({
              name: id,
              text: `@id("${id}") ${text}`,
            })),
            now: () => seconds * 1000,
          })
          for (const r of requests) {
            seconds = r.seconds
            const base = routed('GET', '/x/:id', { id: r.id })
            const req: RequestLike = r.mtls ? { ...base, peerCertificate: () => ({}) as never } : base
            const auth = {
              ...userAuth('u', r.scopes),
              scheme: r.scheme,
              format: r.format,
              clientId: r.clientId,
            }
            const answer = isAuthorized({
              principal: { type: 'User', id: 'u' },
              action: { type: 'Action', id: 'GET /x/:id' },
              resource: { type: 'Resource', id: r.id },
              context: {
                scopes: r.scopes,
                token: { scheme: r.scheme, format: r.format },
                mtls: r.mtls,
                params: { id: r.id },
                ...(r.clientId === undefined ? {} : { clientId: r.clientId }),
                time: r.seconds,
              },
              policies: { staticPolicies: policies },
              entities: [],
            })
            if (answer.type !== 'success') throw new Error('the generated requests are valid')
            const { decision, diagnostics } = answer.response
            const got = await authorizer.authorize(req, auth as never)
            const label = JSON.stringify({ chosen, r })
            expect(got.allowed, label).toBe(decision === 'allow' && diagnostics.errors.length === 0)
            expect([...(got.policies ?? [])].sort(), label).toEqual([...diagnostics.reason].sort())
            const erroring = (got.diagnostics ?? []).map((line) => /^policy "([^"]+)"/.exec(line)?.[1])
            expect(erroring.sort(), label).toEqual(diagnostics.errors.map((e) => e.policyId).sort())
            if (got.allowed) seen.allowed++
            else seen.denied++
          }
        },
      ),
      { numRuns: 80 },
    )
    expect(seen.allowed).toBeGreaterThan(0)
    expect(seen.denied).toBeGreaterThan(0)
  }, 120_000)
})
