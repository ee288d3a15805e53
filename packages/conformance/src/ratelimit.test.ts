// Issue 18: rate limits per identity on every mount. The mounts' route-level authorizer slot (`cedar` in
// MountOptions, which takes any Authorizer) carries rateLimit() here, so the budgets see the matched
// route pattern as each framework names it; failureLimit() wraps the authenticator.
import type { DecisionEvent } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { failureLimit, rateLimit } from '@zerotrust/ratelimit'
import { type TestIssuer, testIssuer } from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MountedApp, TestRequest } from './harness.js'
import { frameworks } from './mounts/index.js'
import { publicOrigin, realm } from './scenarios.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'

let idp: TestIssuer
beforeAll(async () => {
  idp = await testIssuer({ issuer, audience })
})

const bearer = async (sub: string): Promise<[string, string]> => [
  'Authorization',
  `Bearer ${await idp.sign({ sub, client_id: 'web-app', scope: 'orders:read' })}`,
]
const charge = async (sub: string): Promise<TestRequest> => ({
  method: 'POST',
  path: '/v1/charges',
  headers: [await bearer(sub)],
})
const order = async (sub: string, id: string): Promise<TestRequest> => ({
  method: 'GET',
  path: `/tenants/acme/orders/${id}`,
  headers: [await bearer(sub)],
})

describe.each(Object.entries(frameworks))('rate limits on %s', (_name, mount) => {
  const events: DecisionEvent[] = []
  let app: MountedApp

  beforeAll(async () => {
    app = await mount({
      authenticator: failureLimit(jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks }), {
        failures: 3,
      }),
      onDecision: (e) => events.push(e),
      realm,
      publicOrigin,
      cedar: rateLimit({
        budgets: [
          { name: 'charges', route: 'POST /v1/charges', limit: 2, windowSeconds: 60 },
          { name: 'orders', route: '/tenants/:tenant/orders/:orderId', limit: 3, windowSeconds: 60 },
        ],
      }),
    })
  })
  afterAll(async () => {
    await app.close()
  })
  const seen = () => events.map(({ durationMs, ...rest }) => rest)

  it('allows a burst of exactly the budget, then answers 429 with Retry-After and the RateLimit fields', async () => {
    expect((await app.send(await charge('alice'))).status).toBe(201)
    expect((await app.send(await charge('alice'))).status).toBe(201)
    events.length = 0
    const refused = await app.send(await charge('alice'))
    expect(refused.status).toBe(429)
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(refused.headers['www-authenticate']).toBeUndefined()
    const retryAfter = Number(refused.headers['retry-after'])
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(refused.headers['ratelimit-policy']).toBe('"charges";q=2;w=60')
    expect(refused.headers.ratelimit).toBe(`"charges";r=0;t=${retryAfter}`)
    expect(JSON.parse(refused.body)).toMatchObject({
      status: 429,
      code: 'rate_limited',
      reason: 'budget_exhausted',
    })
    const who = { subject: 'alice', clientId: 'web-app', issuer, method: 'POST', path: '/v1/charges' }
    expect(seen()).toEqual([
      { layer: 'jwt', outcome: 'allow', code: 'ok', ...who },
      {
        layer: 'ratelimit',
        outcome: 'deny',
        code: 'rate_limited',
        reason: 'budget_exhausted',
        status: 429,
        ...who,
        policies: ['charges'],
      },
    ])
  })

  it('keeps a budget per identity: another subject still has its own', async () => {
    events.length = 0
    expect((await app.send(await charge('bob'))).status).toBe(201)
    expect(seen()[1]).toEqual({
      layer: 'ratelimit',
      outcome: 'allow',
      code: 'ok',
      subject: 'bob',
      clientId: 'web-app',
      issuer,
      method: 'POST',
      path: '/v1/charges',
      policies: ['charges'],
    })
  })

  it('counts a route by its pattern: different ids share one budget', async () => {
    const statuses = []
    for (const id of ['1', '2', '3', '4']) statuses.push((await app.send(await order('carol', id))).status)
    expect(statuses).toEqual([200, 200, 200, 429])
  })

  it('refuses a peer whose tokens keep failing before checking another one (failureLimit)', async () => {
    const forged: TestRequest = {
      method: 'GET',
      path: '/orders',
      headers: [['Authorization', 'Bearer e30.e30.e30']],
    }
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await app.send(forged)).status)
    expect(statuses).toEqual([401, 401, 401])
    events.length = 0
    const refused = await app.send(await charge('dave'))
    expect(refused.status).toBe(429)
    expect(refused.headers['ratelimit-policy']).toBe('"auth-failures";q=3;w=60')
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'rate_limited', reason: 'too_many_failures' })
    expect(seen()).toEqual([
      {
        layer: 'jwt',
        outcome: 'deny',
        code: 'rate_limited',
        reason: 'too_many_failures',
        status: 429,
        method: 'POST',
        path: '/v1/charges',
      },
    ])
  })
})
