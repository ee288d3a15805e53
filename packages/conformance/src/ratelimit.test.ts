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

const browserOrigin = 'https://app.example.com'
const budgets = () =>
  rateLimit({
    budgets: [
      { name: 'charges', route: 'POST /v1/charges', limit: 2, windowSeconds: 60 },
      { name: 'orders', route: '/tenants/:tenant/orders/:orderId', limit: 3, windowSeconds: 60 },
    ],
  })
const exposed = (value: string | undefined) =>
  (value ?? '').split(',').map((name) => name.trim().toLowerCase())

describe.each(Object.entries(frameworks))('rate limits on %s', (_name, mount) => {
  const events: DecisionEvent[] = []
  let app: MountedApp
  let withCors: MountedApp

  beforeAll(async () => {
    withCors = await mount({
      authenticator: jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks }),
      onDecision: () => {},
      realm,
      publicOrigin,
      cedar: budgets(),
      cors: { origin: browserOrigin, exposedHeaders: ['X-Request-Id'] },
    })
    app = await mount({
      authenticator: failureLimit(jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks }), {
        failures: 3,
      }),
      onDecision: (e) => events.push(e),
      realm,
      publicOrigin,
      cedar: budgets(),
    })
  })
  afterAll(async () => {
    await Promise.all([app.close(), withCors.close()])
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

  it('sends RateLimit-Policy and RateLimit on allowed responses too, counting down (issue 18)', async () => {
    const t = (field: string | undefined) => Number(/;t=(\d+)$/.exec(field ?? '')?.[1])
    const first = await app.send(await order('erin', '1'))
    expect(first.status).toBe(200)
    expect(first.headers['ratelimit-policy']).toBe('"orders";q=3;w=60')
    expect(first.headers.ratelimit).toMatch(/^"orders";r=2;t=\d+$/)
    expect(t(first.headers.ratelimit)).toBeGreaterThanOrEqual(1)
    expect(t(first.headers.ratelimit)).toBeLessThanOrEqual(60)
    const second = await app.send(await order('erin', '2'))
    expect(second.status).toBe(200)
    expect(second.headers.ratelimit).toMatch(/^"orders";r=1;t=\d+$/)
    expect(t(second.headers.ratelimit)).toBeLessThanOrEqual(t(first.headers.ratelimit))
    // A route no budget applies to carries none.
    const plain = await app.send({ method: 'GET', path: '/orders', headers: [await bearer('erin')] })
    expect(plain.status).toBe(200)
    expect(plain.headers['ratelimit-policy']).toBeUndefined()
    expect(plain.headers.ratelimit).toBeUndefined()
  })

  it("behind the framework's CORS middleware: the RateLimit fields join the headers it exposes", async () => {
    const allowed = await withCors.send({
      ...(await charge('frank')),
      headers: [['Origin', browserOrigin], await bearer('frank')],
    })
    expect(allowed.status).toBe(201)
    expect(allowed.headers['access-control-allow-origin']).toBe(browserOrigin)
    expect(allowed.headers.ratelimit).toMatch(/^"charges";r=1;t=\d+$/)
    expect(exposed(allowed.headers['access-control-expose-headers'])).toEqual(
      expect.arrayContaining(['x-request-id', 'ratelimit-policy', 'ratelimit']),
    )
    await withCors.send(await charge('frank'))
    const refused = await withCors.send({
      ...(await charge('frank')),
      headers: [['Origin', browserOrigin], await bearer('frank')],
    })
    expect(refused.status).toBe(429)
    expect(exposed(refused.headers['access-control-expose-headers'])).toEqual(
      expect.arrayContaining(['x-request-id', 'ratelimit-policy', 'ratelimit']),
    )
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
