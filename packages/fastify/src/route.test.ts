import type { AddressInfo } from 'node:net'
import type { Authorizer, RequestLike } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { sendRaw, testIssuer } from '@zerotrust/testkit'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { authorize, zeroTrust } from './index.js'

// Issue #6: route-level authorizers (Cedar actions) must see the matched route pattern and its
// parameters, not the raw path, whether they run from `config.zeroTrust` or a route's own hook.
const seen: { via: string; route: string | undefined; params: RequestLike['params'] }[] = []
function recorder(via: string): Authorizer {
  return {
    layer: 'recorder',
    async authorize(req) {
      seen.push({ via, route: req.route, params: req.params })
      return { allowed: true }
    },
  }
}

let app: FastifyInstance
let port: number
let token: string

beforeAll(async () => {
  const idp = await testIssuer({ issuer: 'https://idp.example.com/', audience: 'api://orders' })
  token = await idp.sign()
  app = Fastify()
  await app.register(zeroTrust, {
    authenticator: jwtBearer({
      issuer: 'https://idp.example.com/',
      audience: 'api://orders',
      algorithms: ['ES256'],
      jwks: idp.jwks,
    }),
    publicOrigin: 'https://api.example.com',
  })
  app.get(
    '/tenants/:tenant/orders/:orderId',
    { config: { zeroTrust: { authorize: recorder('config') } } },
    async () => ({ ok: true }),
  )
  app.post('/v1/charges', { preHandler: authorize(recorder('hook')) }, async (_req, reply) =>
    reply.code(201).send({ ok: true }),
  )
  await app.register(
    async (scope) => {
      scope.get('/reports/:id', { config: { zeroTrust: { authorize: recorder('prefixed') } } }, async () => ({
        ok: true,
      }))
    },
    { prefix: '/v2' },
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  port = (app.server.address() as AddressInfo).port
})

afterAll(() => app.close())
beforeEach(() => {
  seen.length = 0
})

function send(method: 'GET' | 'POST', path: string) {
  return sendRaw(port, { method, path, headers: [['authorization', `Bearer ${token}`]] })
}

describe('fastify authorizers: the matched route', () => {
  it('passes the pattern and parameters to config.zeroTrust authorizers', async () => {
    expect((await send('GET', '/tenants/acme/orders/o-1')).status).toBe(200)
    expect(seen).toEqual([
      {
        via: 'config',
        route: '/tenants/:tenant/orders/:orderId',
        params: { tenant: 'acme', orderId: 'o-1' },
      },
    ])
  })

  it('passes them to an authorize() hook too', async () => {
    expect((await send('POST', '/v1/charges')).status).toBe(201)
    expect(seen).toEqual([{ via: 'hook', route: '/v1/charges', params: {} }])
  })

  it("includes the plugin scope's prefix in the pattern", async () => {
    expect((await send('GET', '/v2/reports/r-9')).status).toBe(200)
    expect(seen).toEqual([{ via: 'prefixed', route: '/v2/reports/:id', params: { id: 'r-9' } }])
  })
})
