import type { Authorizer, RequestLike } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { sendRaw, startHttpServer, type TestHttpServer, testIssuer } from '@zerotrust/testkit'
import express from 'express'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { authenticate, authorize } from './index.js'

// Issue #6: route-level authorizers (Cedar actions) must see the matched route pattern and its
// parameters, not the raw path, or `/orders/7/` and `/orders/8` would be different actions.
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
  const tokens = jwtBearer({
    issuer: 'https://idp.example.com/',
    audience: 'api://orders',
    algorithms: ['ES256'],
    jwks: idp.jwks,
  })
  const app = express()
  app.use(authenticate(tokens, { publicOrigin: 'https://api.example.com' }))
  app.get('/tenants/:tenant/orders/:orderId', authorize(recorder), (_req, res) => {
    res.json({ ok: true })
  })
  const router = express.Router()
  router.post('/charges', authorize(recorder, { mountPath: '/v1' }), (_req, res) => {
    res.status(201).json({ ok: true })
  })
  router.get('/', authorize(recorder, { mountPath: '/v1' }), (_req, res) => {
    res.json({ ok: true })
  })
  app.use('/v1', router)
  const tenants = express.Router()
  tenants.delete('/orders/:orderId', authorize(recorder), (_req, res) => {
    res.json({ ok: true })
  })
  tenants.get('/orders/:orderId', authorize(recorder, { mountPath: '/shops/:shop' }), (_req, res) => {
    res.json({ ok: true })
  })
  app.use('/shops/:shop', tenants)
  const admin = express.Router()
  admin.delete('/users/:id', authorize(recorder, { mountPath: '/admin' }), (_req, res) => {
    res.json({ ok: true })
  })
  app.use('/admin', admin)
  app.get('/files/*path', authorize(recorder), (_req, res) => {
    res.json({ ok: true })
  })
  // An app-level authorizer runs before routing: no route is known.
  app.use('/early', authorize(recorder), (_req, res) => {
    res.json({ ok: true })
  })
  server = await startHttpServer(app)
})

afterAll(() => server.close())
beforeEach(() => {
  seen.length = 0
})

function send(method: 'GET' | 'POST' | 'DELETE', path: string) {
  return sendRaw(server.port, { method, path, headers: [['authorization', `Bearer ${token}`]] })
}

describe('express authorize(): the matched route', () => {
  it('passes the route pattern and parameters', async () => {
    expect((await send('GET', '/tenants/acme/orders/o-1')).status).toBe(200)
    expect(seen).toEqual([
      { route: '/tenants/:tenant/orders/:orderId', params: { tenant: 'acme', orderId: 'o-1' } },
    ])
  })

  it("joins a router's mount path, and names a router's root route by the mount path", async () => {
    expect((await send('POST', '/v1/charges')).status).toBe(201)
    expect((await send('GET', '/v1')).status).toBe(200)
    expect(seen).toEqual([
      { route: '/v1/charges', params: {} },
      { route: '/v1', params: {} },
    ])
  })

  // Regression (security review): the pattern was built from req.baseUrl, the client's own text, so
  // DELETE /ADMIN/users/1 was the action "DELETE /ADMIN/users/:id" and escaped a forbid on /admin.
  it('never builds the pattern from the path the client sent to a mounted router', async () => {
    expect((await send('DELETE', '/ADMIN/users/1')).status).toBe(200)
    expect((await send('GET', '/shops/acme/orders/o-1')).status).toBe(200)
    expect((await send('DELETE', '/shops/acme/orders/o-1')).status).toBe(200)
    expect(seen).toEqual([
      { route: '/admin/users/:id', params: { id: '1' } },
      { route: '/shops/:shop/orders/:orderId', params: { orderId: 'o-1' } },
      // Without `mountPath` a mounted route has no pattern: an authorizer that needs one fails closed.
      { route: undefined, params: { orderId: 'o-1' } },
    ])
  })

  it('rejects a mountPath that is not a path pattern', () => {
    expect(() => authorize(recorder, { mountPath: 'v1' })).toThrow(
      /"mountPath" option must be a path pattern/,
    )
  })

  it('joins the segments of a wildcard parameter', async () => {
    expect((await send('GET', '/files/a/b.txt')).status).toBe(200)
    expect(seen).toEqual([{ route: '/files/*path', params: { path: 'a/b.txt' } }])
  })

  it('passes no route before routing', async () => {
    expect((await send('GET', '/early')).status).toBe(200)
    expect(seen).toEqual([{ route: undefined, params: {} }])
  })
})
