import { describe, expect, it, vi } from 'vitest'
import { requestLike } from '../test/request-like.js'
import type { Auth, Authenticator, Authorizer } from './auth.js'
import {
  type DecisionEvent,
  noteIgnoredHeaders,
  reportDecision,
  reportRendered,
  runAuthentication,
  runAuthorization,
} from './decision.js'
import { ZeroTrustError } from './errors.js'
import { requireScopes } from './require-scopes.js'

const auth: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: ['api://orders'],
  clientId: 'web',
  scopes: ['orders:read'],
  claims: { sub: 'alice', secret_claim: 'do-not-log' },
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: 2_000_000_000,
  cnf: undefined,
}
const token = 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln'
const req = requestLike({ authorization: `Bearer ${token}`, 'x-request-id': 'r1' }, { target: '/orders?q=1' })
const allow: Authenticator = { layer: 'test', authenticate: async () => auth }

describe('runAuthentication', () => {
  it('reports an allow event with identifiers and nothing else', async () => {
    const events: DecisionEvent[] = []
    await expect(runAuthentication(allow, { ...req, requestId: 'r1' }, (e) => events.push(e))).resolves.toBe(
      auth,
    )
    expect(events).toEqual([
      {
        layer: 'test',
        outcome: 'allow',
        code: 'ok',
        subject: 'alice',
        clientId: 'web',
        issuer: 'https://idp.example.com/',
        method: 'GET',
        path: '/orders',
        requestId: 'r1',
        durationMs: expect.any(Number),
      },
    ])
    const text = JSON.stringify(events)
    expect(text).not.toContain(token)
    expect(text).not.toContain('do-not-log')
    expect(text).not.toContain('q=1')
  })

  it('reports a denial with code, reason and status', async () => {
    const events: DecisionEvent[] = []
    const deny: Authenticator = {
      layer: 'jwt',
      authenticate: async () => {
        throw new ZeroTrustError('invalid_token', 'the access token expired', { reason: 'expired' })
      },
    }
    await expect(runAuthentication(deny, req, (e) => events.push(e))).rejects.toMatchObject({
      code: 'invalid_token',
    })
    expect(events[0]).toMatchObject({
      layer: 'jwt',
      outcome: 'deny',
      code: 'invalid_token',
      reason: 'expired',
      status: 401,
    })
  })

  it('turns an unknown failure into internal_error, reported as an error', async () => {
    const events: DecisionEvent[] = []
    const broken: Authenticator = {
      layer: 'jwt',
      authenticate: async () => {
        throw new Error(`boom ${token}`)
      },
    }
    await expect(runAuthentication(broken, req, (e) => events.push(e))).rejects.toMatchObject({
      code: 'internal_error',
      status: 500,
    })
    expect(events[0]).toMatchObject({ outcome: 'error', code: 'internal_error', status: 500 })
    expect(JSON.stringify(events)).not.toContain(token)
  })

  it('keeps the decision when the sink throws, and warns', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    await expect(
      runAuthentication(allow, req, () => {
        throw new Error('sink down')
      }),
    ).resolves.toBe(auth)
    expect(warn).toHaveBeenCalledOnce()
    warn.mockRestore()
  })
})

describe('workload in decision events (issue 15)', () => {
  const workload = {
    id: 'spiffe://prod.example.com/checkout',
    trustDomain: 'prod.example.com',
    path: '/checkout',
    proof: 'mtls',
  } as const

  it("carries the workload's SPIFFE ID when the Auth has one", async () => {
    const events: DecisionEvent[] = []
    const withWorkload: Authenticator = { layer: 'w', authenticate: async () => ({ ...auth, workload }) }
    await runAuthentication(withWorkload, req, (e) => events.push(e))
    expect(events[0]).toMatchObject({ subject: 'alice', workload: 'spiffe://prod.example.com/checkout' })
    await runAuthentication(allow, req, (e) => events.push(e))
    expect(events[1]).not.toHaveProperty('workload')
  })

  it('reports the ignored headers a layer noted, once, on an allow or a denial', async () => {
    const events: DecisionEvent[] = []
    const sink = (e: DecisionEvent) => events.push(e)
    const noting = (fail: boolean): Authenticator => ({
      layer: 'w',
      authenticate: async (r) => {
        noteIgnoredHeaders(r, ['x-forwarded-client-cert'])
        noteIgnoredHeaders(r, ['x-forwarded-client-cert', 'l5d-client-id'])
        if (fail) throw new ZeroTrustError('unauthenticated_workload', 'no', { reason: 'x' })
        return auth
      },
    })
    const first = { ...req }
    await runAuthentication(noting(false), first, sink)
    await runAuthorization(requireScopes('orders:read'), first, auth, sink)
    const second = { ...req }
    await expect(runAuthentication(noting(true), second, sink)).rejects.toMatchObject({ status: 401 })
    expect(events.map((e) => e.ignoredHeaders)).toEqual([
      ['x-forwarded-client-cert', 'l5d-client-id'],
      undefined,
      ['x-forwarded-client-cert', 'l5d-client-id'],
    ])
    expect(events[2]).toMatchObject({ outcome: 'deny', code: 'unauthenticated_workload', status: 401 })
  })
})

describe('runAuthorization', () => {
  it('allows and denies through the authorizer, reporting each', async () => {
    const events: DecisionEvent[] = []
    await runAuthorization(requireScopes('orders:read'), req, auth, (e) => events.push(e))
    await expect(
      runAuthorization(requireScopes('orders:write'), req, auth, (e) => events.push(e)),
    ).rejects.toMatchObject({
      code: 'insufficient_scope',
      status: 403,
      scope: ['orders:write'],
    })
    expect(events.map((e) => [e.layer, e.outcome, e.code])).toEqual([
      ['scopes', 'allow', 'ok'],
      ['scopes', 'deny', 'insufficient_scope'],
    ])
  })

  it("resolves with an allowed decision's response headers, leaving out those that cannot be sent (issue 18)", async () => {
    const answering = (responseHeaders: Record<string, string>): Authorizer => ({
      layer: 'quota',
      authorize: async () => ({ allowed: true, responseHeaders }),
    })
    const fine = { 'RateLimit-Policy': '"default";q=10;w=60', RateLimit: '"default";r=9;t=60' }
    await expect(runAuthorization(answering(fine), req, auth)).resolves.toBe(fine)
    await expect(
      runAuthorization(answering({ ...fine, 'X-Split': 'a\r\nSet-Cookie: b', 'bad name': 'c' }), req, auth),
    ).resolves.toEqual(fine)
    // A scope check decides at once: the answer is the headers themselves, here none.
    expect(runAuthorization(requireScopes('orders:read'), req, auth)).toBeUndefined()
  })

  it('fails closed when no authentication ran before it', async () => {
    await expect(runAuthorization(requireScopes('a'), req, undefined)).rejects.toMatchObject({
      code: 'internal_error',
    })
  })
})

describe('a layer that answers at once (issue 14)', () => {
  const syncAllow: Authenticator = { layer: 'cache', authenticate: () => auth }

  it('runAuthentication answers with the Auth itself, reported before it returns', () => {
    const events: DecisionEvent[] = []
    const answer = runAuthentication(syncAllow, req, (e) => events.push(e))
    expect(answer).toBe(auth)
    expect(events.map((e) => [e.layer, e.outcome])).toEqual([['cache', 'allow']])
  })

  it('runAuthentication turns a synchronous throw into a rejected promise, reported once', async () => {
    const events: DecisionEvent[] = []
    const throwing: Authenticator = {
      layer: 'jwt',
      authenticate: () => {
        throw new ZeroTrustError('missing_credentials', 'no token')
      },
    }
    const answer = runAuthentication(throwing, req, (e) => events.push(e))
    expect(answer).toBeInstanceOf(Promise)
    await expect(answer).rejects.toMatchObject({ code: 'missing_credentials' })
    expect(events.map((e) => [e.outcome, e.code])).toEqual([['deny', 'missing_credentials']])
  })

  it('runAuthentication still answers with a promise for a layer that waits', async () => {
    const answer = runAuthentication(allow, req)
    expect(answer).toBeInstanceOf(Promise)
    await expect(answer).resolves.toBe(auth)
  })

  it('runAuthorization answers an allow at once, and rejects a synchronous denial', async () => {
    const events: DecisionEvent[] = []
    const headers = { RateLimit: '"default";r=9;t=60' }
    const quota: Authorizer = {
      layer: 'quota',
      authorize: () => ({ allowed: true, responseHeaders: headers }),
    }
    expect(runAuthorization(quota, req, auth, (e) => events.push(e))).toBe(headers)
    const denial = runAuthorization(requireScopes('orders:write'), req, auth, (e) => events.push(e))
    expect(denial).toBeInstanceOf(Promise)
    await expect(denial).rejects.toMatchObject({ code: 'insufficient_scope' })
    expect(events.map((e) => [e.layer, e.outcome])).toEqual([
      ['quota', 'allow'],
      ['scopes', 'deny'],
    ])
  })

  it('runAuthorization fails closed on an answer that is no decision, in either form', async () => {
    const events: DecisionEvent[] = []
    for (const answer of [undefined, { allowed: 'yes' }, Promise.resolve({})]) {
      const odd = { layer: 'odd', authorize: () => answer } as unknown as Authorizer
      await expect(
        Promise.resolve(runAuthorization(odd, req, auth, (e) => events.push(e))),
      ).rejects.toMatchObject({
        code: 'internal_error',
      })
    }
    expect(events.map((e) => [e.layer, e.outcome, e.code])).toEqual([
      ['odd', 'error', 'internal_error'],
      ['odd', 'error', 'internal_error'],
      ['odd', 'error', 'internal_error'],
    ])
  })
})

describe('reportDecision', () => {
  it("reports an allow with its own reason, and a denial with its error's", () => {
    const events: DecisionEvent[] = []
    const req = { method: 'POST', path: '/payments' }
    const who = { subject: 'alice', clientId: 'web', issuer: 'https://idp.example.com/' }
    reportDecision((e) => events.push(e), 'idempotency', req, performance.now(), who, undefined, {
      reason: 'replayed',
    })
    const conflict = new ZeroTrustError('idempotency_conflict', 'in progress', { reason: 'in_flight' })
    reportDecision((e) => events.push(e), 'idempotency', req, performance.now(), who, conflict, {
      reason: 'ignored',
    })
    expect(events.map(({ durationMs: _d, ...rest }) => rest)).toEqual([
      { layer: 'idempotency', outcome: 'allow', code: 'ok', reason: 'replayed', ...who, ...req },
      {
        layer: 'idempotency',
        outcome: 'deny',
        code: 'idempotency_conflict',
        reason: 'in_flight',
        status: 409,
        ...who,
        ...req,
      },
    ])
  })
})

// Issue 12: every error an adapter renders yields exactly one event, whoever reported it.
describe('reportRendered', () => {
  const denied = () => new ZeroTrustError('access_denied', 'not yours', { reason: 'not_owner' })

  it('reports an error a handler threw once, as the handler layer, with the caller', () => {
    const events: DecisionEvent[] = []
    const context = { view: req, onDecision: (e: DecisionEvent) => events.push(e), auth }
    reportRendered(context, denied())
    expect(events).toEqual([
      {
        layer: 'handler',
        outcome: 'deny',
        code: 'access_denied',
        reason: 'not_owner',
        status: 403,
        subject: 'alice',
        clientId: 'web',
        issuer: 'https://idp.example.com/',
        method: 'GET',
        path: '/orders',
        durationMs: expect.any(Number),
      },
    ])
  })

  it('does not report again a denial a layer reported before it was rendered', async () => {
    const events: DecisionEvent[] = []
    const context = { view: req, onDecision: (e: DecisionEvent) => events.push(e), auth }
    const answer = runAuthorization(requireScopes('orders:write'), req, auth, context.onDecision)
    const error = await Promise.resolve(answer).catch((thrown: ZeroTrustError) => thrown)
    reportRendered(context, error as ZeroTrustError)
    expect(events.map((e) => [e.layer, e.code])).toEqual([['scopes', 'insufficient_scope']])
  })

  it('reports an error instance shared between requests on each request that renders it', () => {
    const events: DecisionEvent[] = []
    const context = { view: req, onDecision: (e: DecisionEvent) => events.push(e), auth }
    const shared = denied()
    // One request: a layer reports it and the adapter renders it.
    reportDecision(context.onDecision, 'claims', req, performance.now(), auth, shared)
    reportRendered(context, shared)
    // The next request: a handler throws the same instance.
    reportRendered(context, shared, 'handler')
    expect(events.map((e) => e.layer)).toEqual(['claims', 'handler'])
  })

  it('reports nothing without a context or a sink', () => {
    expect(() => reportRendered(undefined, denied())).not.toThrow()
    expect(() => reportRendered({ view: req, onDecision: undefined }, denied())).not.toThrow()
  })
})
