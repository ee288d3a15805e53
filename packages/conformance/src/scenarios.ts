import type { Authenticator, DecisionEvent } from '@zerotrust/core'
import { expect } from 'vitest'
import type { TestRequest } from './harness.js'

/** The authenticators a scenario can run against; the suite mounts one app per kind and framework. */
/** `broken` rejects, `broken-sync` throws before returning: adapters must answer both alike (issue 14). */
export type AuthenticatorKind = 'issuer' | 'issuer-down' | 'jwt-or-opaque' | 'broken' | 'broken-sync'

/** The tokens and keys the suite prepares once. */
export interface Fixtures {
  /** A fresh authenticator of a kind, so no state is shared between frameworks. */
  authenticator(kind: AuthenticatorKind): Authenticator
  readonly issuer: string
  /** Signs an access token for the issuer with its published key. */
  token(claims?: Record<string, unknown>): Promise<string>
  /** Signs with a key that claims the published kid but is not the issuer's. */
  forgedToken(): Promise<string>
  /** The authorization server whose opaque tokens the `jwt-or-opaque` kind introspects. */
  readonly opaqueIssuer: string
  /** Asks that authorization server for an opaque access token. */
  opaqueToken(scope?: string): Promise<string>
}

/** A decision event without its timing, which differs from run to run. */
export type ExpectedEvent = Omit<DecisionEvent, 'durationMs'>

/** One HTTP exchange every adapter must answer identically. */
export interface Scenario {
  readonly name: string
  readonly authenticator: AuthenticatorKind
  request(fixtures: Fixtures): Promise<TestRequest>
  readonly status: number
  /** The exact `WWW-Authenticate`, `null` when there must be none, `undefined` to skip the check. */
  readonly wwwAuthenticate?: string | null | ((fixtures: Fixtures) => string)
  readonly retryAfter?: boolean
  /** Members the JSON body must have. */
  body?(fixtures: Fixtures): Record<string, unknown>
  /** Text the body must never contain. */
  readonly bodyExcludes?: string
  /** The decision events, in order. */
  events?(fixtures: Fixtures): ExpectedEvent[]
}

export const realm = 'orders'
export const publicOrigin = 'https://api.example.com'
export const requestId = 'conformance-1'

const base = { method: 'GET', path: '/orders', requestId } as const
const request = (
  path: string,
  headers: [string, string][] = [],
  method: 'GET' | 'POST' = 'GET',
): TestRequest => ({
  method,
  path,
  headers: [['X-Request-Id', requestId], ...headers],
})
const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`]
const who = (f: Fixtures) => ({ subject: 'alice', clientId: 'web-app', issuer: f.issuer })
const challenge = (error: string, description: string) =>
  `Bearer realm="${realm}", error="${error}", error_description="${description.replaceAll('"', "'")}"`

/** The table every adapter runs. Adding a scenario adds it for every framework. */
export const scenarios: readonly Scenario[] = [
  {
    name: 'an opted-out route needs no token and reports nothing',
    authenticator: 'issuer',
    request: async () => request('/health'),
    status: 200,
    body: () => ({ ok: true }),
    events: () => [],
  },
  {
    name: 'no token: 401 with a bare challenge',
    authenticator: 'issuer',
    request: async () => request('/orders'),
    status: 401,
    wwwAuthenticate: `Bearer realm="${realm}"`,
    body: () => ({ status: 401, code: 'missing_credentials' }),
    events: () => [{ ...base, layer: 'jwt', outcome: 'deny', code: 'missing_credentials', status: 401 }],
  },
  {
    name: 'malformed Authorization header: 400 invalid_request',
    authenticator: 'issuer',
    request: async () => request('/orders', [['Authorization', 'Bearer not a token']]),
    status: 400,
    wwwAuthenticate: challenge('invalid_request', 'the Authorization header is malformed'),
    body: () => ({ code: 'invalid_request', reason: 'malformed_authorization' }),
  },
  {
    name: 'two Authorization headers: 400 invalid_request',
    authenticator: 'issuer',
    request: async (f) => {
      const token = await f.token()
      return request('/orders', [bearer(token), bearer(token)])
    },
    status: 400,
    body: () => ({ code: 'invalid_request' }),
  },
  {
    name: 'a token in the query string: 400 invalid_request',
    authenticator: 'issuer',
    request: async (f) => request(`/orders?access_token=${await f.token()}`),
    status: 400,
    wwwAuthenticate: challenge('invalid_request', 'access tokens in the query string are not accepted'),
    events: () => [
      {
        ...base,
        layer: 'jwt',
        outcome: 'deny',
        code: 'invalid_request',
        reason: 'token_in_query',
        status: 400,
      },
    ],
  },
  {
    name: 'a query token under a percent-encoded name: 400 invalid_request, as the framework decodes it (issue 12)',
    authenticator: 'issuer',
    request: async () => request('/orders?%61ccess_token=x'),
    status: 400,
    wwwAuthenticate: challenge('invalid_request', 'access tokens in the query string are not accepted'),
    body: () => ({ code: 'invalid_request', reason: 'token_in_query' }),
    events: () => [
      {
        ...base,
        layer: 'jwt',
        outcome: 'deny',
        code: 'invalid_request',
        reason: 'token_in_query',
        status: 400,
      },
    ],
  },
  {
    name: 'a malformed percent-encoding in the query is no 500',
    authenticator: 'issuer',
    request: async () => request('/orders?%E0%A4%A=1&%zz&%'),
    status: 401,
    body: () => ({ code: 'missing_credentials' }),
  },
  {
    name: 'bad signature: 401 invalid_token',
    authenticator: 'issuer',
    request: async (f) => request('/orders', [bearer(await f.forgedToken())]),
    status: 401,
    wwwAuthenticate: challenge('invalid_token', 'the access token signature is invalid'),
    body: () => ({ code: 'invalid_token', reason: 'signature' }),
  },
  {
    name: 'expired token: 401 invalid_token',
    authenticator: 'issuer',
    request: async (f) => {
      const now = Math.floor(Date.now() / 1000)
      return request('/orders', [bearer(await f.token({ iat: now - 600, exp: now - 60 }))])
    },
    status: 401,
    wwwAuthenticate: challenge('invalid_token', 'the access token expired'),
    body: () => ({
      status: 401,
      code: 'invalid_token',
      reason: 'expired',
      detail: 'the access token expired',
    }),
    events: () => [
      { ...base, layer: 'jwt', outcome: 'deny', code: 'invalid_token', reason: 'expired', status: 401 },
    ],
  },
  {
    name: 'wrong audience: 401 invalid_token',
    authenticator: 'issuer',
    request: async (f) => request('/orders', [bearer(await f.token({ aud: 'api://billing' }))]),
    status: 401,
    wwwAuthenticate: challenge('invalid_token', 'unexpected "aud" claim value'),
    body: () => ({ code: 'invalid_token', reason: 'claim:aud' }),
  },
  {
    name: 'missing scope: 403 insufficient_scope naming the scope',
    authenticator: 'issuer',
    request: async (f) => request('/orders', [bearer(await f.token())], 'POST'),
    status: 403,
    wwwAuthenticate: `${challenge('insufficient_scope', 'the access token lacks a required scope')}, scope="orders:write"`,
    body: () => ({ status: 403, code: 'insufficient_scope', scope: 'orders:write' }),
    events: (f) => [
      { ...base, method: 'POST', layer: 'jwt', outcome: 'allow', code: 'ok', ...who(f) },
      {
        ...base,
        method: 'POST',
        layer: 'scopes',
        outcome: 'deny',
        code: 'insufficient_scope',
        reason: 'missing_scope',
        status: 403,
        ...who(f),
      },
    ],
  },
  {
    name: 'valid token: the handler sees the same auth',
    authenticator: 'issuer',
    request: async (f) => request('/orders', [bearer(await f.token())]),
    status: 200,
    wwwAuthenticate: null,
    body: (f) => ({
      auth: {
        subject: 'alice',
        issuer: f.issuer,
        audience: ['api://orders'],
        clientId: 'web-app',
        scopes: ['orders:read'],
        claims: expect.objectContaining({ sub: 'alice', client_id: 'web-app', scope: 'orders:read' }),
        scheme: 'Bearer',
        format: 'jwt',
        expiresAt: expect.any(Number),
      },
    }),
    events: (f) => [
      { ...base, layer: 'jwt', outcome: 'allow', code: 'ok', ...who(f) },
      { ...base, layer: 'scopes', outcome: 'allow', code: 'ok', ...who(f) },
    ],
  },
  {
    name: 'valid token with the write scope: the write goes through',
    authenticator: 'issuer',
    request: async (f) =>
      request('/orders', [bearer(await f.token({ scope: 'orders:read orders:write' }))], 'POST'),
    status: 201,
    body: () => ({ created: true }),
  },
  {
    name: 'a ZeroTrustError thrown by a handler renders as zerotrust renders it',
    authenticator: 'issuer',
    request: async (f) => request('/orders/7', [bearer(await f.token())]),
    status: 403,
    wwwAuthenticate: null,
    body: () => ({ status: 403, code: 'access_denied', reason: 'not_owner' }),
    // Issue 12: the handler's denial is the request's answer, so it is reported, exactly once.
    events: (f) => [
      { ...base, path: '/orders/7', layer: 'jwt', outcome: 'allow', code: 'ok', ...who(f) },
      {
        ...base,
        path: '/orders/7',
        layer: 'handler',
        outcome: 'deny',
        code: 'access_denied',
        reason: 'not_owner',
        status: 403,
        ...who(f),
      },
    ],
  },
  {
    name: 'a denial a layer reported and the handler let through to the error path is reported once (issue 12)',
    authenticator: 'issuer',
    request: async (f) => request('/orders/7/audit', [bearer(await f.token())]),
    status: 403,
    body: () => ({ status: 403, code: 'insufficient_scope', scope: 'orders:audit' }),
    events: (f) => [
      { ...base, path: '/orders/7/audit', layer: 'jwt', outcome: 'allow', code: 'ok', ...who(f) },
      {
        ...base,
        path: '/orders/7/audit',
        layer: 'scopes',
        outcome: 'deny',
        code: 'insufficient_scope',
        reason: 'missing_scope',
        status: 403,
        ...who(f),
      },
    ],
  },
  {
    name: 'an opaque token goes to introspection, a JWT to local verification (anyOf)',
    authenticator: 'jwt-or-opaque',
    request: async (f) => request('/orders', [bearer(await f.opaqueToken())]),
    status: 200,
    body: (f) => ({
      auth: expect.objectContaining({ issuer: f.opaqueIssuer, clientId: 'orders-api', format: 'opaque' }),
    }),
    events: (f) => [
      {
        ...base,
        layer: 'jwt|introspection',
        outcome: 'allow',
        code: 'ok',
        clientId: 'orders-api',
        issuer: f.opaqueIssuer,
      },
      {
        ...base,
        layer: 'scopes',
        outcome: 'allow',
        code: 'ok',
        clientId: 'orders-api',
        issuer: f.opaqueIssuer,
      },
    ],
  },
  {
    name: 'an opaque token the authorization server does not know: 401 invalid_token',
    authenticator: 'jwt-or-opaque',
    request: async () => request('/orders', [bearer('not-a-token-the-server-issued')]),
    status: 401,
    wwwAuthenticate: challenge('invalid_token', 'the access token is not active'),
    body: () => ({ code: 'invalid_token', reason: 'inactive' }),
    events: () => [
      {
        ...base,
        layer: 'jwt|introspection',
        outcome: 'deny',
        code: 'invalid_token',
        reason: 'inactive',
        status: 401,
      },
    ],
  },
  {
    name: 'a JWT still goes to local verification under anyOf',
    authenticator: 'jwt-or-opaque',
    request: async (f) => request('/orders', [bearer(await f.token())]),
    status: 200,
    body: () => ({ auth: expect.objectContaining({ subject: 'alice', format: 'jwt' }) }),
  },
  {
    name: 'identity provider outage: 503 with Retry-After, never 401',
    authenticator: 'issuer-down',
    request: async (f) => request('/orders', [bearer(await f.token())]),
    status: 503,
    wwwAuthenticate: null,
    retryAfter: true,
    body: () => ({ status: 503, code: 'dependency_unavailable' }),
    events: () => [
      {
        ...base,
        layer: 'jwt',
        outcome: 'error',
        code: 'dependency_unavailable',
        reason: 'discovery_unavailable',
        status: 503,
        // The identity provider answers 503: the event says so, for an operator (issue 20).
        cause: 'http_status',
      },
    ],
  },
  {
    name: 'an unknown error inside a layer: 500 without leaking it',
    authenticator: 'broken',
    request: async (f) => request('/orders', [bearer(await f.token())]),
    status: 500,
    wwwAuthenticate: null,
    body: () => ({ status: 500, code: 'internal_error', detail: 'an internal error occurred' }),
    bodyExcludes: 'secret-detail',
    events: () => [{ ...base, layer: 'broken', outcome: 'error', code: 'internal_error', status: 500 }],
  },
  {
    name: 'an authenticator that throws instead of rejecting: the same 500, one event',
    authenticator: 'broken-sync',
    request: async (f) => request('/orders', [bearer(await f.token())]),
    status: 500,
    wwwAuthenticate: null,
    body: () => ({ status: 500, code: 'internal_error', detail: 'an internal error occurred' }),
    bodyExcludes: 'secret-detail',
    events: () => [{ ...base, layer: 'broken-sync', outcome: 'error', code: 'internal_error', status: 500 }],
  },
]
