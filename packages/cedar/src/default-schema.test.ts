import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Auth, Decision, Workload } from '@zerotrust/core'
import { describe, expect, it } from 'vitest'
import { clientAuth, routed, userAuth } from '../test/helpers.js'
import { cedarAuthorizer } from './index.js'

// The schema the package ships for its default request mapping (schema/default.cedarschema): policies
// that read every default attribute validate against it in strict mode, and every request the default
// mapping builds (a user, a client, a workload alone, a user through a workload) passes
// `validateRequest` (issue 20).
const schemaFile = fileURLToPath(new URL('../schema/default.cedarschema', import.meta.url))
const checkout = 'spiffe://prod.example.com/ns/shop/sa/checkout'

const policies = `
@id("read-orders")
permit (principal, action == Action::"GET /orders", resource)
when {
  context.scopes.contains("orders:read") && context.token.scheme != "" && context.token.format != "" &&
  context.time > 0 && !context.mtls
};

@id("read-own-order")
permit (principal is User, action == Action::"GET /orders/:orderId", resource)
when { context.params.orderId == "o-1" && context has clientId && context.clientId == "web-app" };

@id("checkout-creates-orders")
permit (principal == Workload::"${checkout}", action == Action::"POST /orders", resource);

@id("users-create-orders-through-checkout")
permit (principal is User, action == Action::"POST /orders", resource)
when { context has workload && context.workload.id == "${checkout}" && context.workload.proof == "xfcc" };
`

const workloadOf = (proof: Workload['proof']): Workload => ({
  id: checkout,
  trustDomain: 'prod.example.com',
  path: '/ns/shop/sa/checkout',
  proof,
})
const workloadAlone: Auth = {
  subject: checkout,
  issuer: undefined,
  audience: [],
  clientId: undefined,
  scopes: [],
  claims: {},
  scheme: 'mtls',
  format: 'x509',
  expiresAt: undefined,
  cnf: undefined,
  workload: workloadOf('mtls'),
}
const outcome = (decision: Decision) =>
  decision.allowed
    ? { allowed: true, policies: decision.policies }
    : { allowed: false, reason: decision.error.reason }

describe('schema/default.cedarschema (issue 20)', () => {
  const authorizer = cedarAuthorizer({
    policies: { name: 'orders.cedar', text: policies },
    schema: { file: schemaFile },
  })

  it('ships in the package', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      files: string[]
    }
    expect(manifest.files).toContain('schema')
  })

  it('validates the requests of users, clients and workloads the default mapping builds', async () => {
    const list = routed('GET', '/orders')
    expect(outcome(await authorizer.authorize(list, userAuth('alice', ['orders:read'])))).toEqual({
      allowed: true,
      policies: ['read-orders'],
    })
    expect(
      outcome(await authorizer.authorize(list, { ...clientAuth('batch'), scopes: ['orders:read'] })),
    ).toEqual({
      allowed: true,
      policies: ['read-orders'],
    })
    const one = routed('GET', '/orders/:orderId', { orderId: 'o-1' })
    expect(outcome(await authorizer.authorize(one, userAuth('alice')))).toEqual({
      allowed: true,
      policies: ['read-own-order'],
    })
    const create = routed('POST', '/orders')
    expect(outcome(await authorizer.authorize(create, workloadAlone))).toEqual({
      allowed: true,
      policies: ['checkout-creates-orders'],
    })
    expect(
      outcome(await authorizer.authorize(create, { ...userAuth('alice'), workload: workloadOf('xfcc') })),
    ).toEqual({ allowed: true, policies: ['users-create-orders-through-checkout'] })
  })

  it('denies by policy, not as a request the schema refuses', async () => {
    expect(outcome(await authorizer.authorize(routed('GET', '/orders'), userAuth('alice')))).toEqual({
      allowed: false,
      reason: 'denied_by_policy',
    })
    expect(outcome(await authorizer.authorize(routed('POST', '/orders'), userAuth('alice')))).toEqual({
      allowed: false,
      reason: 'denied_by_policy',
    })
  })
})
