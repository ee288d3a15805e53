import type { Auth, Workload } from '@zerotrust/core'
import { describe, expect, it } from 'vitest'
import { routed, userAuth } from '../test/helpers.js'
import { cedarAuthorizer } from './index.js'

// Issue 15: the calling workload (a SPIFFE ID proven by mTLS or a trusted sidecar) in Cedar. Alone, it is
// the principal, `Workload::"spiffe://…"`; beside a user's token, the user stays the principal and the
// workload is `context.workload`. The seeds' rule: only the checkout service may POST /v1/charges.
const checkoutId = 'spiffe://prod.example.com/ns/shop/sa/checkout'
const billingId = 'spiffe://prod.example.com/ns/shop/sa/billing'

const policies = `
@id("checkout-creates-charges")
permit (principal == Workload::"${checkoutId}", action == Action::"POST /v1/charges", resource);

@id("users-charge-through-checkout")
permit (principal is User, action == Action::"POST /v1/charges", resource)
when { context has workload && context.workload.id == "${checkoutId}" };
`

const workloadOf = (id: string, proof: Workload['proof'] = 'mtls'): Workload => ({
  id,
  trustDomain: 'prod.example.com',
  path: id.slice('spiffe://prod.example.com'.length),
  proof,
})

// What workloadIdentity answers alone: no token.
const workloadAuth = (id: string): Auth => ({
  subject: id,
  issuer: undefined,
  audience: [],
  clientId: undefined,
  scopes: [],
  claims: {},
  scheme: 'mtls',
  format: 'x509',
  expiresAt: undefined,
  cnf: undefined,
  workload: workloadOf(id),
})
// What allOf(workloadIdentity, tokens) answers: the user, with the workload beside.
const userVia = (subject: string, id: string): Auth => ({
  ...userAuth(subject),
  workload: workloadOf(id, 'xfcc'),
})

const charges = routed('POST', '/v1/charges')
const outcome = async (authorizer: ReturnType<typeof cedarAuthorizer>, auth: Auth) => {
  const decision = await authorizer.authorize(charges, auth)
  return decision.allowed ? { allowed: true, policies: decision.policies } : { allowed: false }
}

describe('cedarAuthorizer and the calling workload (issue 15)', () => {
  it('makes a workload without a token the principal: only checkout may POST /v1/charges', async () => {
    const authorizer = cedarAuthorizer({ policies: { name: 'charges.cedar', text: policies } })
    expect(await outcome(authorizer, workloadAuth(checkoutId))).toEqual({
      allowed: true,
      policies: ['checkout-creates-charges'],
    })
    expect(await outcome(authorizer, workloadAuth(billingId))).toEqual({ allowed: false })
  })

  it("puts a workload beside a user's token in the context, the user staying the principal", async () => {
    const authorizer = cedarAuthorizer({ policies: { name: 'charges.cedar', text: policies } })
    expect(await outcome(authorizer, userVia('alice', checkoutId))).toEqual({
      allowed: true,
      policies: ['users-charge-through-checkout'],
    })
    expect(await outcome(authorizer, userVia('alice', billingId))).toEqual({ allowed: false })
    expect(await outcome(authorizer, userAuth('alice'))).toEqual({ allowed: false })
  })

  it('gives the context every workload attribute', async () => {
    const seen: unknown[] = []
    const authorizer = cedarAuthorizer({
      policies: {
        name: 'p.cedar',
        text: `permit (principal, action, resource) when { context.workload.trustDomain == "prod.example.com" && context.workload.path == "/ns/shop/sa/checkout" && context.workload.proof == "xfcc" };`,
      },
      principal: (auth) => {
        seen.push(auth.workload)
        return { type: 'User', id: auth.subject ?? '' }
      },
    })
    expect((await authorizer.authorize(charges, userVia('alice', checkoutId))).allowed).toBe(true)
    expect(seen).toEqual([workloadOf(checkoutId, 'xfcc')])
  })

  it('names the workload entity type as configured, in the namespace', async () => {
    const authorizer = cedarAuthorizer({
      policies: {
        name: 'p.cedar',
        text: `permit (principal == Shop::Service::"${checkoutId}", action, resource);`,
      },
      namespace: 'Shop',
      entityTypes: { workload: 'Service' },
    })
    expect((await authorizer.authorize(charges, workloadAuth(checkoutId))).allowed).toBe(true)
  })

  const schema = (workload: string) => `
    entity User; entity Workload; entity Resource;
    action "POST /v1/charges" appliesTo {
      principal: [User, Workload],
      resource: Resource,
      context: { ${workload} }
    };`

  it('carries the workload attributes a schema declares, and no others', async () => {
    const authorizer = cedarAuthorizer({
      policies: { name: 'charges.cedar', text: policies },
      schema: { text: schema('workload?: { id: String }') },
      resource: () => ({ type: 'Resource', id: 'charges' }),
    })
    // Request validation refuses an attribute the schema does not declare: only `id` is carried.
    expect(await outcome(authorizer, userVia('alice', checkoutId))).toEqual({
      allowed: true,
      policies: ['users-charge-through-checkout'],
    })
    expect(await outcome(authorizer, workloadAuth(checkoutId))).toEqual({
      allowed: true,
      policies: ['checkout-creates-charges'],
    })
    expect(await outcome(authorizer, userAuth('alice'))).toEqual({ allowed: false })
  })

  it('refuses at construction a schema that declares the workload with another type', () => {
    const build = (declared: string) => () =>
      cedarAuthorizer({
        policies: { name: 'charges.cedar', text: 'permit (principal, action, resource);' },
        schema: { text: schema(declared) },
      })
    expect(build('workload?: String')).toThrow(/context attribute "workload" is declared as String/)
    expect(build('workload?: { id: Long }')).toThrow(/context attribute "workload\.id" is declared as Long/)
    expect(build('workload?: { id: String, team: String }')).toThrow(
      /context attribute "workload\.team" is required by the schema/,
    )
  })
})
