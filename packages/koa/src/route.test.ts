import Router from '@koa/router'
import type { Authorizer, RequestLike } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { sendRaw, startHttpServer, type TestHttpServer, testIssuer } from '@zerotrust/testkit'
import Koa from 'koa'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { authenticate, authorize } from './index.js'

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

let server: TestHttpServer
let token: string

beforeAll(async () => {
  const idp = await testIssuer({ issuer: 'https://idp.example.com/', audience: 'api://orders' })
  token = await idp.sign()
  const app = new Koa()
  app.use(
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
  const router = new Router()
  router.get('/tenants/:tenant/orders/:orderId', authorize(recorder), (ctx) => {
    ctx.body = { ok: true }
  })
  const v1 = new Router({ prefix: '/v1' })
  v1.post('/charges', authorize(recorder), (ctx) => {
    ctx.status = 201
    ctx.body = { ok: true }
  })
  app.use(router.routes())
  app.use(v1.routes())
  // Before any router: no route is known.
  app.use(authorize(recorder))
  app.use((ctx) => {
    ctx.body = { ok: true }
  })
  server = await startHttpServer(app.callback())
})

afterAll(() => server.close())
beforeEach(() => {
  seen.length = 0
})

function send(method: 'GET' | 'POST', path: string) {
  return sendRaw(server.port, { method, path, headers: [['authorization', `Bearer ${token}`]] })
}

describe('koa authorize(): the matched route', () => {
  it('passes the route pattern and parameters', async () => {
    expect((await send('GET', '/tenants/acme/orders/o-1')).status).toBe(200)
    expect(seen).toEqual([
      { route: '/tenants/:tenant/orders/:orderId', params: { tenant: 'acme', orderId: 'o-1' } },
    ])
  })

  it("includes the router's prefix", async () => {
    expect((await send('POST', '/v1/charges')).status).toBe(201)
    expect(seen).toEqual([{ route: '/v1/charges', params: {} }])
  })

  it('passes no route outside a router', async () => {
    expect((await send('GET', '/elsewhere')).status).toBe(200)
    expect(seen).toEqual([{ route: undefined, params: undefined }])
  })
})
