import { cedarAuthorizer } from '@zerotrust/cedar'
import { type Authenticator, allOf } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import type { TestIssuer } from '@zerotrust/testkit'
import { workloadIdentity } from '@zerotrust/workload'
import type { TestRequest } from './harness.js'
import type { ExpectedEvent } from './scenarios.js'

// Issue 15: which workload calls, on every mount. A sidecar's header is honoured from a trusted hop only:
// these apps listen on 127.0.0.1 and the suite connects from there, so `trustedHops: ['127.0.0.1']` makes
// the suite the sidecar, and `['127.0.0.6']` (Istio's inbound address) makes it any other peer. Over
// plain HTTP, `source: 'mtls'` sees no certificate. The handshakes themselves (verified, unknown CA,
// expired, two URI SANs) run over real mutual TLS on all four adapters in packages/workload/test.
export const trustDomain = 'prod.example.com'
export const ordersId = `spiffe://${trustDomain}/ns/shop/sa/orders`
export const checkoutId = `spiffe://${trustDomain}/ns/shop/sa/checkout`
export const billingId = `spiffe://${trustDomain}/ns/shop/sa/billing`
export const issuer = 'https://idp.example.com/'
export const audience = 'api://orders'

/** The apps a scenario can run against; the suite mounts one per kind and framework. */
export type WorkloadAppKind = 'mtls' | 'xfcc' | 'xfcc-elsewhere' | 'l5d' | 'xfcc-and-token'

const sidecar = ['127.0.0.1', '::1']

/** A fresh authenticator of a kind, so no state is shared between frameworks. */
export function workloadAuthenticator(kind: WorkloadAppKind, idp: TestIssuer): Authenticator {
  switch (kind) {
    case 'mtls':
      return workloadIdentity({ trustDomains: [trustDomain], source: 'mtls' })
    case 'xfcc':
      return workloadIdentity({
        trustDomains: [trustDomain],
        source: 'xfcc',
        trustedHops: sidecar,
        self: ordersId,
      })
    case 'xfcc-elsewhere':
      return workloadIdentity({
        trustDomains: [trustDomain],
        source: 'xfcc',
        trustedHops: ['127.0.0.6'],
        self: ordersId,
      })
    case 'l5d':
      return workloadIdentity({ trustDomains: ['cluster.local'], source: 'l5d', trustedHops: sidecar })
    case 'xfcc-and-token':
      return allOf(
        workloadIdentity({
          trustDomains: [trustDomain],
          source: 'xfcc',
          trustedHops: sidecar,
          self: ordersId,
        }),
        jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks }),
      )
  }
}

// The seeds' rule of issue 15: only the checkout service creates charges, on its own or for a user.
const policies = `
@id("checkout-creates-charges")
permit (principal == Workload::"${checkoutId}", action == Action::"POST /v1/charges", resource);

@id("users-charge-through-checkout")
permit (principal is User, action == Action::"POST /v1/charges", resource)
when { context has workload && context.workload.id == "${checkoutId}" };

@id("users-read-orders")
permit (principal is User, action == Action::"GET /tenants/:tenant/orders/:orderId", resource);
`

/** A fresh Cedar authorizer of the workload policies for one mounted app. */
export function workloadAuthorizer() {
  return cedarAuthorizer({ policies: { name: 'workload.cedar', text: policies } })
}

/** One exchange with a workload app. */
export interface WorkloadScenario {
  readonly name: string
  readonly app: WorkloadAppKind
  request(idp: TestIssuer): Promise<TestRequest>
  readonly status: number
  /** Members the JSON body must have. */
  body?(): Record<string, unknown>
  /** The decision events, in order. */
  events(): ExpectedEvent[]
  /**
   * The scenario needs the peer's address (a trusted hop): a mount without a socket (Hono's
   * `app.request`) must refuse it as `untrusted_hop` instead, the header ignored.
   */
  readonly needsPeer?: boolean
}

const xfccOf = (uri: string, by = ordersId) =>
  `By=${by};Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/O=Shop, Inc.;CN=client";URI=${uri}`
const charge = (headers: [string, string][] = []): TestRequest => ({
  method: 'POST',
  path: '/v1/charges',
  headers,
})
const readOrders = (headers: [string, string][] = []): TestRequest => ({
  method: 'GET',
  path: '/orders',
  headers,
})
const bearer = async (idp: TestIssuer, scope = 'orders:read'): Promise<[string, string]> => [
  'Authorization',
  `Bearer ${await idp.sign({ sub: 'alice', client_id: 'web-app', scope })}`,
]

const chargeEvent = { method: 'POST', path: '/v1/charges' } as const
const ordersEvent = { method: 'GET', path: '/orders' } as const
const allow = (layer: string, extra: Partial<ExpectedEvent> = {}): ExpectedEvent =>
  ({ layer, outcome: 'allow', code: 'ok', ...chargeEvent, ...extra }) as ExpectedEvent
const workloadAllowed = (id: string, extra: Partial<ExpectedEvent> = {}) =>
  allow('workload', { subject: id, workload: id, ...extra })
/** The `workload` layer's 401 for `reason`. */
export const unauthenticated = (reason: string, extra: Partial<ExpectedEvent> = {}): ExpectedEvent =>
  ({
    layer: 'workload',
    outcome: 'deny',
    code: 'unauthenticated_workload',
    reason,
    status: 401,
    ...chargeEvent,
    ...extra,
  }) as ExpectedEvent
const denied = (layer: string, reason: string, extra: Partial<ExpectedEvent> = {}): ExpectedEvent =>
  ({
    layer,
    outcome: 'deny',
    code: 'access_denied',
    reason,
    status: 403,
    ...chargeEvent,
    ...extra,
  }) as ExpectedEvent

export const workloadScenarios: readonly WorkloadScenario[] = [
  {
    name: 'mtls: a request without a client certificate is 401 no_client_certificate, with no challenge',
    app: 'mtls',
    request: async () => charge(),
    status: 401,
    body: () => ({ code: 'unauthenticated_workload', reason: 'no_client_certificate', status: 401 }),
    events: () => [unauthenticated('no_client_certificate')],
  },
  {
    name: 'mtls: a forged x-forwarded-client-cert proves nothing and is reported ignored',
    app: 'mtls',
    request: async () => charge([['X-Forwarded-Client-Cert', xfccOf(checkoutId)]]),
    status: 401,
    body: () => ({ reason: 'no_client_certificate' }),
    events: () => [unauthenticated('no_client_certificate', { ignoredHeaders: ['x-forwarded-client-cert'] })],
  },
  {
    name: 'xfcc: the checkout service creates a charge through its trusted sidecar',
    app: 'xfcc',
    needsPeer: true,
    request: async () => charge([['X-Forwarded-Client-Cert', xfccOf(checkoutId)]]),
    status: 201,
    body: () => ({ charged: true }),
    events: () => [
      workloadAllowed(checkoutId),
      allow('cedar', { subject: checkoutId, workload: checkoutId, policies: ['checkout-creates-charges'] }),
    ],
  },
  {
    name: 'xfcc: the billing service may not create charges (403 from the policy)',
    app: 'xfcc',
    needsPeer: true,
    request: async () => charge([['X-Forwarded-Client-Cert', xfccOf(billingId)]]),
    status: 403,
    body: () => ({ code: 'access_denied', reason: 'denied_by_policy' }),
    events: () => [
      workloadAllowed(billingId),
      // No policy permits it: a default deny, determined by no policy.
      denied('cedar', 'denied_by_policy', { subject: billingId, workload: billingId, policies: [] }),
    ],
  },
  {
    name: 'xfcc: several elements, the last one (this sidecar’s) decides',
    app: 'xfcc',
    needsPeer: true,
    request: async () =>
      charge([
        ['X-Forwarded-Client-Cert', `${xfccOf(billingId, 'spiffe://edge.example/gw')},${xfccOf(checkoutId)}`],
      ]),
    status: 201,
    events: () => [
      workloadAllowed(checkoutId),
      allow('cedar', { subject: checkoutId, workload: checkoutId, policies: ['checkout-creates-charges'] }),
    ],
  },
  {
    name: 'xfcc: an element whose By is not this service is refused as forged',
    app: 'xfcc',
    needsPeer: true,
    request: async () =>
      charge([['X-Forwarded-Client-Cert', `${xfccOf(billingId)},${xfccOf(checkoutId, billingId)}`]]),
    status: 401,
    body: () => ({ code: 'unauthenticated_workload', reason: 'xfcc_by_mismatch' }),
    events: () => [unauthenticated('xfcc_by_mismatch')],
  },
  {
    name: 'xfcc: a malformed header is refused whole',
    app: 'xfcc',
    needsPeer: true,
    request: async () => charge([['X-Forwarded-Client-Cert', `By=${ordersId};URI="${checkoutId}`]]),
    status: 401,
    events: () => [unauthenticated('malformed_sidecar_header')],
  },
  {
    name: 'xfcc: a trusted sidecar that sent no header proves no workload',
    app: 'xfcc',
    needsPeer: true,
    request: async () => charge(),
    status: 401,
    events: () => [unauthenticated('no_sidecar_header')],
  },
  {
    name: 'xfcc: from a peer that is not the sidecar, the header is ignored and reported',
    app: 'xfcc-elsewhere',
    request: async () => charge([['X-Forwarded-Client-Cert', xfccOf(checkoutId)]]),
    status: 401,
    body: () => ({ code: 'unauthenticated_workload', reason: 'untrusted_hop' }),
    events: () => [unauthenticated('untrusted_hop', { ignoredHeaders: ['x-forwarded-client-cert'] })],
  },
  {
    name: 'l5d: a Linkerd identity is the SPIFFE ID of its service account',
    app: 'l5d',
    needsPeer: true,
    request: async () =>
      readOrders([['L5d-Client-Id', 'checkout.shop.serviceaccount.identity.linkerd.cluster.local']]),
    // A workload alone has no token, so no scopes: requireScopes asks for a token.
    status: 403,
    body: () => ({ code: 'insufficient_scope' }),
    events: () => {
      const id = 'spiffe://cluster.local/ns/shop/sa/checkout'
      return [
        { ...workloadAllowed(id), ...ordersEvent },
        {
          layer: 'scopes',
          outcome: 'deny',
          code: 'insufficient_scope',
          reason: 'missing_scope',
          status: 403,
          subject: id,
          workload: id,
          ...ordersEvent,
        },
      ]
    },
  },
  {
    name: 'l5d: a value that is no Linkerd identity is refused',
    app: 'l5d',
    needsPeer: true,
    request: async () => readOrders([['L5d-Client-Id', 'checkout']]),
    status: 401,
    events: () => [unauthenticated('invalid_spiffe_id', ordersEvent)],
  },
  {
    name: 'xfcc and a token: the user and the calling workload are both in auth',
    app: 'xfcc-and-token',
    needsPeer: true,
    request: async (idp) => readOrders([await bearer(idp), ['X-Forwarded-Client-Cert', xfccOf(checkoutId)]]),
    status: 200,
    body: () => ({
      auth: {
        subject: 'alice',
        clientId: 'web-app',
        workload: { id: checkoutId, trustDomain, path: '/ns/shop/sa/checkout', proof: 'xfcc' },
      },
    }),
    events: () => {
      const who = { subject: 'alice', clientId: 'web-app', issuer, workload: checkoutId }
      return [
        { layer: 'workload&jwt', outcome: 'allow', code: 'ok', ...who, ...ordersEvent },
        { layer: 'scopes', outcome: 'allow', code: 'ok', ...who, ...ordersEvent },
      ]
    },
  },
  {
    name: 'xfcc and a token: a user charges through checkout (the workload in the Cedar context)',
    app: 'xfcc-and-token',
    needsPeer: true,
    request: async (idp) => charge([await bearer(idp), ['X-Forwarded-Client-Cert', xfccOf(checkoutId)]]),
    status: 201,
    events: () => {
      const who = { subject: 'alice', clientId: 'web-app', issuer, workload: checkoutId }
      return [
        allow('workload&jwt', who),
        allow('cedar', { ...who, policies: ['users-charge-through-checkout'] }),
      ]
    },
  },
  {
    name: 'xfcc and a token: the same user through billing is denied',
    app: 'xfcc-and-token',
    needsPeer: true,
    request: async (idp) => charge([await bearer(idp), ['X-Forwarded-Client-Cert', xfccOf(billingId)]]),
    status: 403,
    events: () => {
      const who = { subject: 'alice', clientId: 'web-app', issuer, workload: billingId }
      return [allow('workload&jwt', who), denied('cedar', 'denied_by_policy', { ...who, policies: [] })]
    },
  },
  {
    name: 'xfcc and a token: a token without a proven workload is refused before the token is read',
    app: 'xfcc-and-token',
    needsPeer: true,
    request: async (idp) => charge([await bearer(idp)]),
    status: 401,
    events: () => [unauthenticated('no_sidecar_header', { layer: 'workload&jwt' })],
  },
]
