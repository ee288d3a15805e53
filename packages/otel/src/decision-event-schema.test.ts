import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type Authorizer,
  type DecisionEvent,
  errorTable,
  type RequestLike,
  requireScopes,
  ZeroTrustError,
} from '@zerotrust/core'
import { runAuthentication, runAuthorization } from '@zerotrust/core/adapter'
import { jwtBearer } from '@zerotrust/jwt'
import { failureLimit, rateLimit } from '@zerotrust/ratelimit'
import { testIssuer } from '@zerotrust/testkit'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'

// Issue 18: docs/decision-event.schema.json is the contract a SIEM parses; every layer's events hold to it.
const root = fileURLToPath(new URL('../../../', import.meta.url))
const schema = JSON.parse(readFileSync(join(root, 'docs/decision-event.schema.json'), 'utf8'))
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema)
const issuer = 'https://idp.example.com/'
const audience = 'api://orders'

const request = (authorization?: string, remoteAddress = '192.0.2.1'): RequestLike => ({
  method: 'GET',
  origin: 'https://api.example.com',
  target: '/orders?secret=1',
  path: '/orders',
  requestId: 'req-1',
  remoteAddress,
  headerValues: (name) => (name === 'authorization' && authorization !== undefined ? [authorization] : []),
})

describe('decision events hold to docs/decision-event.schema.json', () => {
  it('lists exactly the codes of core', () => {
    expect([...schema.properties.code.enum].sort()).toEqual(['ok', ...Object.keys(errorTable)].sort())
  })

  it("validates every layer's allow, deny and error events", async () => {
    const idp = await testIssuer({ issuer, audience })
    const events: DecisionEvent[] = []
    const sink = (event: DecisionEvent) => events.push(event)
    const jwt = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })
    const guarded = failureLimit(jwt, { failures: 1 })
    const token = await idp.sign({ sub: 'alice', client_id: 'web-app', scope: 'orders:read' })
    const auth = await runAuthentication(guarded, request(`Bearer ${token}`), sink)
    await Promise.resolve(runAuthentication(guarded, request(), sink)).catch(() => undefined)
    await Promise.resolve(runAuthentication(guarded, request('Bearer e30.e30.e30'), sink)).catch(
      () => undefined,
    )
    await runAuthorization(requireScopes('orders:read'), request(), auth, sink)
    await Promise.resolve(runAuthorization(requireScopes('orders:write'), request(), auth, sink)).catch(
      () => undefined,
    )
    const limits = rateLimit({ budgets: [{ name: 'default', limit: 1, windowSeconds: 60 }] })
    await runAuthorization(limits, request(), auth, sink)
    await Promise.resolve(runAuthorization(limits, request(), auth, sink)).catch(() => undefined)
    const failing: Authorizer = {
      layer: 'cedar',
      authorize: async () => ({
        allowed: false,
        error: new ZeroTrustError('dependency_unavailable', 'down', { reason: 'store_unavailable' }),
        policies: ['p1'],
        diagnostics: ['policy p2 errored'],
      }),
    }
    await Promise.resolve(runAuthorization(failing, request(), auth, sink)).catch(() => undefined)
    await Promise.resolve(runAuthorization(failing, request(), undefined, sink)).catch(() => undefined)

    expect(events.map((e) => `${e.layer}:${e.outcome}:${e.code}`)).toEqual([
      'jwt:allow:ok',
      'jwt:deny:missing_credentials',
      'jwt:deny:rate_limited',
      'scopes:allow:ok',
      'scopes:deny:insufficient_scope',
      'ratelimit:allow:ok',
      'ratelimit:deny:rate_limited',
      'cedar:error:dependency_unavailable',
      'cedar:error:internal_error',
    ])
    for (const event of events) {
      expect(validate(event), JSON.stringify(validate.errors)).toBe(true)
    }
    // The workload, ignored headers and every optional member a layer may add.
    const full: DecisionEvent = {
      layer: 'workload',
      outcome: 'deny',
      code: 'unauthenticated_workload',
      reason: 'untrusted_hop',
      status: 401,
      subject: 'spiffe://prod.example.com/ns/shop/sa/checkout',
      workload: 'spiffe://prod.example.com/ns/shop/sa/checkout',
      ignoredHeaders: ['x-forwarded-client-cert'],
      method: 'POST',
      path: '/v1/charges',
      requestId: 'r',
      policies: [],
      diagnostics: [],
      durationMs: 0.2,
    }
    expect(validate(full), JSON.stringify(validate.errors)).toBe(true)
  })

  it('refuses what an event must never carry', () => {
    const base = { layer: 'jwt', outcome: 'allow', code: 'ok', method: 'GET', path: '/orders', durationMs: 1 }
    expect(validate(base)).toBe(true)
    expect(validate({ ...base, token: 'eyJ' })).toBe(false)
    expect(validate({ ...base, path: '/orders?access_token=x' })).toBe(false)
    expect(validate({ ...base, code: 'made_up' })).toBe(false)
  })
})
