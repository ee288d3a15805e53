import { type CedarEntity, cedarAuthorizer } from '@zerotrust/cedar'
import type { Auth, RequestLike } from '@zerotrust/core'
import type { TestRequest } from './harness.js'
import type { ExpectedEvent, Fixtures } from './scenarios.js'

// The seed service of issue #6, small: owners read their orders, tenant admins read their tenant's,
// the payments workload (a client-credentials token) creates charges and nothing else.
const policies = `
@id("owners-read-orders")
permit (principal is User, action == Action::"GET /tenants/:tenant/orders/:orderId", resource is Order)
when { resource.owner == principal };

@id("tenant-admins-read-orders")
permit (principal is User, action == Action::"GET /tenants/:tenant/orders/:orderId", resource is Order)
when { principal.roles.contains("admin") && resource.tenant == principal.tenant };

@id("payments-workload-charges")
permit (principal == Client::"payments-service", action == Action::"POST /v1/charges", resource);
`

const users: Record<string, { tenant: string; roles: string[] }> = {
  alice: { tenant: 'acme', roles: [] },
  bob: { tenant: 'acme', roles: ['admin'] },
  carol: { tenant: 'globex', roles: ['admin'] },
}
const orders: Record<string, { tenant: string; owner: string }> = {
  'o-1': { tenant: 'acme', owner: 'alice' },
}

function entities(req: RequestLike, auth: Auth): CedarEntity[] {
  const slice: CedarEntity[] = []
  const orderId = req.params?.orderId
  const order = orderId === undefined ? undefined : orders[orderId]
  if (orderId !== undefined && order !== undefined) {
    slice.push({
      uid: { type: 'Order', id: orderId },
      attrs: {
        tenant: { __entity: { type: 'Tenant', id: order.tenant } },
        owner: { __entity: { type: 'User', id: order.owner } },
      },
    })
  }
  const user = auth.subject === undefined ? undefined : users[auth.subject]
  if (auth.subject !== undefined && user !== undefined) {
    slice.push({
      uid: { type: 'User', id: auth.subject },
      attrs: { tenant: { __entity: { type: 'Tenant', id: user.tenant } }, roles: user.roles },
    })
  }
  return slice
}

/** A fresh Cedar authorizer for one mounted app. */
export function seedAuthorizer() {
  return cedarAuthorizer({
    policies: { name: 'seed.cedar', text: policies },
    resource: (req) =>
      req.params?.orderId === undefined
        ? { type: 'Resource', id: req.route ?? '' }
        : { type: 'Order', id: req.params.orderId },
    entities,
  })
}

/** One exchange with the Cedar routes; `event` is the `cedar` layer's decision event. */
export interface CedarScenario {
  readonly name: string
  request(fixtures: Fixtures): Promise<TestRequest>
  readonly status: number
  body?(): Record<string, unknown>
  /** Text the body must never contain (policy ids and internals). */
  readonly bodyExcludes?: readonly string[]
  event(fixtures: Fixtures): ExpectedEvent
}

const readOrder = (token: string, orderId = 'o-1'): TestRequest => ({
  method: 'GET',
  path: `/tenants/acme/orders/${orderId}`,
  headers: [['Authorization', `Bearer ${token}`]],
})
const charge = (token: string): TestRequest => ({
  method: 'POST',
  path: '/v1/charges',
  headers: [['Authorization', `Bearer ${token}`]],
})
const user = (sub: string) => ({ sub, client_id: 'web-app' })
// A client-credentials token: RFC 9068 §2.2 has `sub` name the client itself when no user is involved.
const workload = (clientId: string) => ({ sub: clientId, client_id: clientId, scope: 'charges:write' })

const event = (
  f: Fixtures,
  method: 'GET' | 'HEAD' | 'POST',
  path: string,
  who: { subject?: string; clientId: string },
  rest: Partial<ExpectedEvent>,
): ExpectedEvent => ({
  layer: 'cedar',
  outcome: 'allow',
  code: 'ok',
  ...(who.subject === undefined ? {} : { subject: who.subject }),
  clientId: who.clientId,
  issuer: f.issuer,
  method,
  path,
  ...rest,
})

const denied = { outcome: 'deny', code: 'access_denied', reason: 'denied_by_policy', status: 403 } as const

export const cedarScenarios: readonly CedarScenario[] = [
  {
    name: 'an owner reads her order, and the event names the policy',
    request: async (f) => readOrder(await f.token(user('alice'))),
    status: 200,
    body: () => ({ orderId: 'o-1' }),
    event: (f) =>
      event(
        f,
        'GET',
        '/tenants/acme/orders/o-1',
        { subject: 'alice', clientId: 'web-app' },
        {
          policies: ['owners-read-orders'],
        },
      ),
  },
  {
    // Issue 12: HEAD was its own action, so the read permission did not cover it. RFC 9110 §9.3.2: HEAD
    // is GET without the content; every framework here routes it to the GET handler.
    name: 'HEAD is decided as the GET of its route (issue 12)',
    request: async (f) => ({ ...readOrder(await f.token(user('alice'))), method: 'HEAD' }),
    status: 200,
    event: (f) =>
      event(
        f,
        'HEAD',
        '/tenants/acme/orders/o-1',
        { subject: 'alice', clientId: 'web-app' },
        { policies: ['owners-read-orders'] },
      ),
  },
  {
    // Issue 12: each scope of a token costs the engine on every decision; past "maxScopes" (256) the
    // token is refused before the engine runs.
    name: 'a token with more scopes than "maxScopes" is denied 403 too_many_scopes (issue 12)',
    request: async (f) =>
      readOrder(
        await f.token({
          ...user('alice'),
          scope: Array.from({ length: 300 }, (_, i) => `s${i}`).join(' '),
        }),
      ),
    status: 403,
    body: () => ({ code: 'access_denied', status: 403, reason: 'too_many_scopes' }),
    event: (f) =>
      event(
        f,
        'GET',
        '/tenants/acme/orders/o-1',
        { subject: 'alice', clientId: 'web-app' },
        {
          outcome: 'deny',
          code: 'access_denied',
          reason: 'too_many_scopes',
          status: 403,
          diagnostics: ['the token carries 300 scopes, more than "maxScopes" (256)'],
        },
      ),
  },
  {
    name: 'a tenant admin reads an order of the tenant',
    request: async (f) => readOrder(await f.token(user('bob'))),
    status: 200,
    event: (f) =>
      event(
        f,
        'GET',
        '/tenants/acme/orders/o-1',
        { subject: 'bob', clientId: 'web-app' },
        {
          policies: ['tenant-admins-read-orders'],
        },
      ),
  },
  {
    name: "another tenant's admin is denied 403, and the body names no policy",
    request: async (f) => readOrder(await f.token(user('carol'))),
    status: 403,
    body: () => ({ code: 'access_denied', status: 403 }),
    bodyExcludes: ['tenant-admins', 'owners-read', 'seed.cedar', 'permit'],
    event: (f) =>
      event(
        f,
        'GET',
        '/tenants/acme/orders/o-1',
        { subject: 'carol', clientId: 'web-app' },
        {
          ...denied,
          policies: [],
        },
      ),
  },
  {
    name: 'a policy that errors (unknown order) denies, with diagnostics in the event only',
    request: async (f) => readOrder(await f.token(user('alice')), 'o-404'),
    status: 403,
    bodyExcludes: ['o-404', 'owners-read', 'does not exist'],
    event: (f) =>
      event(
        f,
        'GET',
        '/tenants/acme/orders/o-404',
        { subject: 'alice', clientId: 'web-app' },
        {
          ...denied,
          policies: [],
          // The admin policy stops at `principal.roles` (alice is no admin) before it reads the order.
          diagnostics: ['policy "owners-read-orders": entity `…` does not exist'],
        },
      ),
  },
  {
    name: 'the payments workload creates a charge',
    request: async (f) => charge(await f.token(workload('payments-service'))),
    status: 201,
    body: () => ({ charged: true }),
    event: (f) =>
      event(
        f,
        'POST',
        '/v1/charges',
        { subject: 'payments-service', clientId: 'payments-service' },
        { policies: ['payments-workload-charges'] },
      ),
  },
  {
    name: 'another workload is denied the charge route',
    request: async (f) => charge(await f.token(workload('reports-service'))),
    status: 403,
    event: (f) =>
      event(
        f,
        'POST',
        '/v1/charges',
        { subject: 'reports-service', clientId: 'reports-service' },
        { ...denied, policies: [] },
      ),
  },
  {
    name: 'a user is denied the charge route (deny by default)',
    request: async (f) => charge(await f.token(user('alice'))),
    status: 403,
    event: (f) =>
      event(f, 'POST', '/v1/charges', { subject: 'alice', clientId: 'web-app' }, { ...denied, policies: [] }),
  },
]
