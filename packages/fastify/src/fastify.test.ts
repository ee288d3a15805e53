import type { AddressInfo } from 'node:net'
import {
  type Auth,
  type Authenticator,
  type DecisionEvent,
  type RequestLike,
  requireClaims,
  ZeroTrustError,
} from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { testIssuer } from '@zerotrust/testkit'
import Fastify, { type FastifyInstance } from 'fastify'
import type { JWTPayload } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { authorize, requireScopes, zeroTrust } from './index.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'
let sign: (claims?: JWTPayload) => Promise<string>
let tokens: Authenticator
let app: FastifyInstance
let url: string
const events: DecisionEvent[] = []
const scopeErrors: unknown[] = []

async function listen(server: FastifyInstance): Promise<{ url: string; port: number }> {
  await server.listen({ port: 0, host: '127.0.0.1' })
  const address = server.server.address() as AddressInfo
  return { url: `http://127.0.0.1:${address.port}`, port: address.port }
}

beforeAll(async () => {
  const idp = await testIssuer({ issuer, audience })
  sign = idp.sign
  tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })

  app = Fastify()
  await app.register(zeroTrust, {
    authenticator: tokens,
    realm: 'orders',
    publicOrigin: 'https://api.example.com',
    onDecision: (e) => events.push(e),
  })
  // Registered after the plugin, in the same scope: receives every error zerotrust does not render.
  app.setErrorHandler((error, _request, reply) => {
    scopeErrors.push(error)
    return reply.code(500).send({ handledBy: 'scope' })
  })
  app.get('/health', { config: { zeroTrust: false } }, async (request) => ({ ok: true, auth: request.auth }))
  app.get('/orders', { config: { zeroTrust: { scopes: 'orders:read' } } }, async (request) => ({
    auth: request.auth,
  }))
  app.post('/orders', { config: { zeroTrust: { scopes: ['orders:write'] } } }, async (request, reply) => {
    return reply.code(201).send({ created: true, body: request.body })
  })
  app.get('/orders/:id', async () => {
    throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
  })
  app.get('/me', async (request) => ({ subject: request.auth?.subject }))
  app.get('/admin', { config: { zeroTrust: { authorize: requireClaims({ role: 'admin' }) } } }, async () => ({
    admin: true,
  }))
  app.get(
    '/reports',
    { preHandler: requireScopes(['reports:read', 'orders:read'], { match: 'any' }) },
    async () => ({
      reports: [],
    }),
  )
  app.get('/early', { onRequest: requireScopes('orders:write') }, async () => ({ early: true }))
  app.get(
    '/misconfigured',
    { config: { zeroTrust: false }, preHandler: authorize(requireClaims({ a: 1 })) },
    () => ({
      reached: true,
    }),
  )
  app.get('/crash', async () => {
    throw new Error('database password is hunter2')
  })
  app.get(
    '/own-handler',
    {
      errorHandler: (_error, _request, reply) => {
        reply.code(418).send({ handledBy: 'route' })
      },
    },
    async (request) => {
      if (request.query && (request.query as { zt?: string }).zt === '1') {
        throw new ZeroTrustError('access_denied', 'not yours', { reason: 'not_owner' })
      }
      throw new Error('teapot')
    },
  )
  ;({ url } = await listen(app))
})

afterAll(async () => {
  await app.close()
})

beforeEach(() => {
  events.length = 0
  scopeErrors.length = 0
})

const call = async (path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) =>
  fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
const bearer = async (claims?: JWTPayload) => ({ authorization: `Bearer ${await sign(claims)}` })

describe('@zerotrust/fastify', () => {
  it('answers a missing token with 401 and a bare challenge naming the realm', async () => {
    const res = await call('/orders')
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="orders"')
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toMatchObject({ status: 401, code: 'missing_credentials' })
    expect(events).toEqual([
      expect.objectContaining({ layer: 'jwt', outcome: 'deny', code: 'missing_credentials', status: 401 }),
    ])
  })

  it('answers a missing scope from config.zeroTrust with 403 insufficient_scope naming the scope', async () => {
    const res = await call(
      '/orders',
      { ...(await bearer()), 'content-type': 'application/json' },
      'POST',
      '{}',
    )
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="orders", error="insufficient_scope", error_description="the access token lacks a required scope", scope="orders:write"',
    )
    expect(await res.json()).toMatchObject({ status: 403, code: 'insufficient_scope', scope: 'orders:write' })
    expect(events.map((e) => `${e.layer}:${e.outcome}`)).toEqual(['jwt:allow', 'scopes:deny'])
  })

  it('lets a write through with the scope, the body parsed after authentication', async () => {
    const res = await call(
      '/orders',
      { ...(await bearer({ scope: 'orders:write' })), 'content-type': 'application/json' },
      'POST',
      '{"item":"tea"}',
    )
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ created: true, body: { item: 'tea' } })
  })

  it('authenticates before the body is parsed: a malformed JSON body without a token gets 401, not 400', async () => {
    const res = await call('/orders', { 'content-type': 'application/json' }, 'POST', '{"item":')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'missing_credentials' })
    // With a token, Fastify's own parser answers the malformed body.
    const parsed = await call(
      '/orders',
      { ...(await bearer({ scope: 'orders:write' })), 'content-type': 'application/json' },
      'POST',
      '{"item":',
    )
    expect(parsed.status).not.toBe(401)
    expect(parsed.status).not.toBe(201)
  })

  it('skips a route opted out with config.zeroTrust false: no authentication, no events', async () => {
    const res = await call('/health', { authorization: 'Bearer not a token' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
    expect(events).toEqual([])
  })

  it('authenticates a route without config.zeroTrust and runs no authorizer for it', async () => {
    const res = await call('/me', await bearer({ scope: '' }))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ subject: 'alice' })
    expect(events.map((e) => e.layer)).toEqual(['jwt'])
    expect((await call('/me')).status).toBe(401)
  })

  it('runs the authorizers of config.zeroTrust.authorize', async () => {
    const denied = await call('/admin', await bearer())
    expect(denied.status).toBe(403)
    expect(await denied.json()).toMatchObject({ code: 'access_denied', reason: 'claim:role' })
    expect(events.map((e) => `${e.layer}:${e.outcome}`)).toEqual(['jwt:allow', 'claims:deny'])
    expect((await call('/admin', await bearer({ role: 'admin' }))).status).toBe(200)
  })

  it('runs the requireScopes() and authorize() hooks in route options', async () => {
    expect((await call('/reports', await bearer())).status).toBe(200)
    const denied = await call('/reports', await bearer({ scope: 'billing:read' }))
    expect(denied.status).toBe(403)
    expect(denied.headers.get('www-authenticate')).toContain('scope="reports:read orders:read"')
    events.length = 0
    const early = await call('/early', await bearer())
    expect(early.status).toBe(403)
    expect(events.map((e) => `${e.layer}:${e.outcome}`)).toEqual(['jwt:allow', 'scopes:deny'])
  })

  it('fails closed when an authorize() hook runs on a route zerotrust does not authenticate', async () => {
    const res = await call('/misconfigured', await bearer())
    expect(res.status).toBe(500)
    expect(await res.json()).toMatchObject({ code: 'internal_error', detail: 'an internal error occurred' })
  })

  it('authenticates requests to unknown routes, so they cannot be enumerated', async () => {
    expect((await call('/nowhere')).status).toBe(401)
    expect((await call('/nowhere', await bearer())).status).toBe(404)
  })

  it('protects the HEAD route Fastify adds for a GET route', async () => {
    expect((await call('/orders', {}, 'HEAD')).status).toBe(401)
    expect((await call('/orders', await bearer(), 'HEAD')).status).toBe(200)
  })

  it('renders a ZeroTrustError thrown by a handler as core renders it', async () => {
    const res = await call('/orders/7', await bearer())
    expect(res.status).toBe(403)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(res.headers.get('www-authenticate')).toBeNull()
    expect(await res.json()).toMatchObject({ status: 403, code: 'access_denied', reason: 'not_owner' })
    expect(scopeErrors).toEqual([])
  })

  it('leaves other errors to the error handler of the scope', async () => {
    const res = await call('/crash', await bearer())
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ handledBy: 'scope' })
    expect(scopeErrors).toEqual([expect.objectContaining({ message: 'database password is hunter2' })])
  })

  it("keeps a route's own error handler for other errors, and renders a ZeroTrustError before it", async () => {
    const own = await call('/own-handler', await bearer())
    expect(own.status).toBe(418)
    expect(await own.json()).toEqual({ handledBy: 'route' })
    const zt = await call('/own-handler?zt=1', await bearer())
    expect(zt.status).toBe(403)
    expect(await zt.json()).toMatchObject({ code: 'access_denied' })
  })

  it('works with app.inject()', async () => {
    const denied = await app.inject({ method: 'GET', url: '/orders' })
    expect(denied.statusCode).toBe(401)
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="orders"')
    const allowed = await app.inject({ method: 'GET', url: '/orders', headers: await bearer() })
    expect(allowed.statusCode).toBe(200)
    expect(allowed.json()).toMatchObject({ auth: { subject: 'alice' } })
  })
})

describe('the request view', () => {
  it('takes the origin from publicOrigin and the target as sent, before rewriteUrl', async () => {
    const seen: RequestLike[] = []
    const spy: Authenticator = {
      layer: 'spy',
      authenticate: async (req) => {
        seen.push(req)
        return { subject: 'bob' } as Auth
      },
    }
    const server = Fastify({ rewriteUrl: (req) => (req.url ?? '/').replace(/^\/v1/, '') })
    await server.register(zeroTrust, { authenticator: spy, publicOrigin: 'https://api.example.com' })
    server.get('/orders', async (request) => ({ subject: request.auth?.subject }))
    const res = await server.inject({ url: '/v1/orders?page=2', headers: { host: 'evil.example' } })
    expect(res.json()).toEqual({ subject: 'bob' })
    expect(seen[0]).toMatchObject({
      method: 'GET',
      origin: 'https://api.example.com',
      target: '/v1/orders?page=2',
      path: '/v1/orders',
    })
    await server.close()
  })

  it('never takes the origin from Host', async () => {
    const seen: RequestLike[] = []
    const spy: Authenticator = {
      layer: 'spy',
      authenticate: async (req) => {
        seen.push(req)
        return { subject: 'bob' } as Auth
      },
    }
    const server = Fastify()
    await server.register(zeroTrust, { authenticator: spy })
    server.get('/', async () => ({}))
    await server.inject({ url: '/', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } })
    expect(seen[0]?.origin).toBeUndefined()
    await server.close()
  })
})

describe('failures inside a layer', () => {
  it('renders an unknown error as 500 without its message', async () => {
    const broken: Authenticator = {
      layer: 'broken',
      authenticate: async () => {
        throw new Error('secret-detail: the database password is hunter2')
      },
    }
    const seen: DecisionEvent[] = []
    const server = Fastify()
    await server.register(zeroTrust, { authenticator: broken, onDecision: (e) => seen.push(e) })
    server.get('/', async () => ({ reached: true }))
    const res = await server.inject({ url: '/' })
    expect(res.statusCode).toBe(500)
    expect(res.body).not.toContain('secret-detail')
    expect(res.json()).toMatchObject({ code: 'internal_error', detail: 'an internal error occurred' })
    expect(seen).toEqual([expect.objectContaining({ layer: 'broken', outcome: 'error', status: 500 })])
    await server.close()
  })

  it("leaves a plain error in a handler to Fastify's default 500", async () => {
    const server = Fastify()
    await server.register(zeroTrust, { authenticator: tokens })
    server.get('/', async () => {
      throw new Error('boom')
    })
    const res = await server.inject({ url: '/', headers: await bearer() })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toMatchObject({ statusCode: 500, error: 'Internal Server Error' })
    expect(res.headers['content-type']).toContain('application/json')
    await server.close()
  })
})

describe('registration', () => {
  const spy: Authenticator = { layer: 'x', authenticate: async () => ({}) as Auth }

  it('rejects option mistakes with a TypeError naming the plugin and the option (issue 13)', async () => {
    const register = (options: object) => Fastify().register(zeroTrust, options as never)
    await expect(register({})).rejects.toThrow(/^zeroTrust: "authenticator" option/)
    await expect(register({ authenticator: {} })).rejects.toThrow(TypeError)
    await expect(register({ authenticator: spy, onDecision: 'log' })).rejects.toThrow(
      new TypeError('zeroTrust: "onDecision" option must be a function'),
    )
    await expect(register({ authenticator: spy, realm: 3 })).rejects.toThrow(
      new TypeError('zeroTrust: "realm" option must be a string'),
    )
    await expect(register({ authenticator: spy, publicOrigin: 'api.example.com' })).rejects.toThrow(
      /^zeroTrust: "publicOrigin" option/,
    )
    await expect(register({ authenticator: spy, trustProxy: 'yes' })).rejects.toThrow(
      /^zeroTrust: "trustProxy" option/,
    )
    expect(() => authorize({} as never)).toThrow(TypeError)
    expect(() => requireScopes([])).toThrow(/^requireScopes: "scopes" option/)
  })

  it("rejects a route's config.zeroTrust mistakes when the route is declared, naming the route and the option (issue 13)", async () => {
    const server = Fastify()
    await server.register(zeroTrust, { authenticator: spy })
    const route = (zeroTrustConfig: unknown) => () =>
      server.get('/x', { config: { zeroTrust: zeroTrustConfig as never } }, async () => ({}))
    // A misspelt option would otherwise leave the route open to every authenticated caller.
    expect(route({ scope: 'orders:write' })).toThrow(
      new TypeError('zeroTrust: route "GET /x": "zeroTrust.scope" option is not recognized'),
    )
    // The scope checks are requireScopes's, named as the route writes them.
    expect(route({ scopes: [] })).toThrow(
      new TypeError('zeroTrust: route "GET /x": "zeroTrust.scopes" option must name at least one scope'),
    )
    expect(route({ scopes: 'a', match: 'some' })).toThrow(
      /^zeroTrust: route "GET \/x": "zeroTrust.match" option/,
    )
    expect(route({ match: 'any' })).toThrow(/"zeroTrust.match" option needs/)
    expect(route({ authorize: () => true })).toThrow(
      /^zeroTrust: route "GET \/x": "zeroTrust.authorize" option/,
    )
    expect(route({ authorize: [] })).toThrow(/"zeroTrust.authorize" option/)
    expect(route(true)).toThrow(
      new TypeError('zeroTrust: route "GET /x": "zeroTrust" option must be false or an object'),
    )
    await server.close()
  })

  it('refuses to be registered twice in one scope', async () => {
    const server = Fastify()
    await server.register(zeroTrust, { authenticator: spy })
    await expect(server.register(zeroTrust, { authenticator: spy })).rejects.toThrow(
      /register @zerotrust\/fastify once/,
    )
    await server.close()
  })

  it('protects routes declared before the plugin loaded, and warns about them', async () => {
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      const server = Fastify()
      void server.register(zeroTrust, { authenticator: tokens, realm: 'orders' })
      // Not awaited: the plugin loads at ready(), after these routes were declared.
      server.get('/orders', { config: { zeroTrust: { scopes: 'orders:write' } } }, async () => ({ ok: true }))
      server.get('/health', { config: { zeroTrust: false } }, async () => ({ ok: true }))
      server.get('/typo', { config: { zeroTrust: { scope: 'orders:write' } as never } }, async () => ({
        ok: true,
      }))
      await server.ready()
      // The misspelt option fails closed on every request, and the warning says why.
      expect((await server.inject({ url: '/typo', headers: await bearer() })).statusCode).toBe(500)
      expect((await server.inject({ url: '/typo', headers: await bearer() })).statusCode).toBe(500)
      const typo = emit.mock.calls.filter(([message]) => String(message).includes('GET /typo'))
      expect(typo).toHaveLength(1)
      expect(String(typo[0]?.[0])).toContain('"zeroTrust.scope" option is not recognized')
      expect((await server.inject({ url: '/orders' })).statusCode).toBe(401)
      const denied = await server.inject({ url: '/orders', headers: await bearer() })
      expect(denied.statusCode).toBe(403)
      expect(denied.json()).toMatchObject({ code: 'insufficient_scope' })
      expect((await server.inject({ url: '/health' })).statusCode).toBe(200)
      const routeWarnings = emit.mock.calls.filter(([message]) => String(message).includes('GET /orders'))
      expect(routeWarnings).toHaveLength(1)
      expect(String(routeWarnings[0]?.[0])).toContain('await app.register(zeroTrust')
      await server.close()
    } finally {
      emit.mockRestore()
    }
  })
})
