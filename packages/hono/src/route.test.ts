import type { Authorizer, RequestLike } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { sendRaw, testIssuer } from '@zerotrust/testkit'
import { Hono } from 'hono'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { serveApp } from '../test/serve.js'
import { authenticate, authorize } from './index.js'
import type { ZeroTrustEnv } from './types.js'

// Issue #6: route-level authorizers (Cedar actions) must see the matched route pattern and its
// parameters, not the raw path.
const seen: { route: string | undefined; params: RequestLike['params'] }[] = []
const recorder: Authorizer = {
  layer: 'recorder',
  async authorize(req) {
    seen.push({ route: req.route, params: req.params })
    return { allowed: true }
  },
}

let server: Awaited<ReturnType<typeof serveApp>>
let token: string

beforeAll(async () => {
  const idp = await testIssuer({ issuer: 'https://idp.example.com/', audience: 'api://orders' })
  token = await idp.sign()
  const app = new Hono<ZeroTrustEnv>()
  app.use(
    '*',
    authenticate(
      jwtBearer({
        issuer: 'https://idp.example.com/',
        audience: 'api://orders',
        algorithms: ['ES256'],
        jwks: idp.jwks,
      }),
      { publicOrigin: 'https://api.example.com' },
    ),
  )
  app.use('/early/*', authorize(recorder))
  app.get('/early/x', (c) => c.json({ ok: true }))
  app.get('/tenants/:tenant/orders/:orderId', authorize(recorder), (c) => c.json({ ok: true }))
  const v1 = new Hono<ZeroTrustEnv>()
  v1.post('/charges', authorize(recorder), (c) => c.json({ ok: true }, 201))
  app.route('/v1', v1)
  server = await serveApp(app)
})

afterAll(() => server.close())
beforeEach(() => {
  seen.length = 0
})

function send(method: 'GET' | 'POST', path: string) {
  return sendRaw(server.port, { method, path, headers: [['authorization', `Bearer ${token}`]] })
}

describe('hono authorize(): the matched route', () => {
  it('passes the route pattern and parameters', async () => {
    expect((await send('GET', '/tenants/acme/orders/o-1')).status).toBe(200)
    expect(seen).toEqual([
      { route: '/tenants/:tenant/orders/:orderId', params: { tenant: 'acme', orderId: 'o-1' } },
    ])
  })

  it("includes a sub-app's mount path", async () => {
    expect((await send('POST', '/v1/charges')).status).toBe(201)
    expect(seen).toEqual([{ route: '/v1/charges', params: {} }])
  })

  it("passes a middleware's own pattern, which names no route", async () => {
    expect((await send('GET', '/early/x')).status).toBe(200)
    expect(seen).toEqual([{ route: '/early/*', params: {} }])
  })
})
