import Router from '@koa/router'
import { type Auth, type Authenticator, type DecisionEvent, ZeroTrustError } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { sendRaw, startHttpServer, type TestHttpServer, testIssuer } from '@zerotrust/testkit'
import type { JWTPayload } from 'jose'
import Koa from 'koa'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { authenticate, authorize, errorHandler, requireScopes } from './index.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'
let sign: (claims?: JWTPayload) => Promise<string>
let tokens: Authenticator
let server: TestHttpServer
let bigServer: TestHttpServer
const events: DecisionEvent[] = []
const koaErrors: unknown[] = []

const allowAll = { layer: 'scopes', authorize: async () => ({ allowed: true as const }) }

beforeAll(async () => {
  const idp = await testIssuer({ issuer, audience })
  sign = idp.sign
  tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })

  const app = new Koa()
  app.on('error', (error: unknown) => koaErrors.push(error))
  app.use(errorHandler())
  const open = new Router()
  open.get('/health', (ctx) => {
    ctx.body = { ok: true }
  })
  // Mounted before authenticate(): fails closed.
  open.get('/misconfigured', authorize(allowAll), (ctx) => {
    ctx.body = { reached: true }
  })
  app.use(open.routes())
  app.use(
    authenticate(tokens, {
      realm: 'orders',
      publicOrigin: 'https://api.example.com',
      onDecision: (e) => events.push(e),
    }),
  )
  const router = new Router()
  router.get('/orders', requireScopes('orders:read'), (ctx) => {
    ctx.body = { auth: ctx.state.auth }
  })
  router.post('/orders', requireScopes('orders:write'), (ctx) => {
    ctx.status = 201
    ctx.body = { created: true }
  })
  router.get('/orders/:id', () => {
    // A handler may deny on its own terms with a ZeroTrustError; errorHandler renders it.
    throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
  })
  router.get('/crash', () => {
    throw new Error('database password is hunter2')
  })
  app.use(router.routes())
  server = await startHttpServer(app.callback())
  bigServer = await startHttpServer(app.callback(), { maxHeaderSize: 256 * 1024 })
})

afterAll(async () => {
  await server.close()
  await bigServer.close()
})

beforeEach(() => {
  events.length = 0
  koaErrors.length = 0
})

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${server.url}${path}`, { method, headers })

describe('@zerotrust/koa', () => {
  it('answers a 100 KiB token with 401 when the server admits such headers', async () => {
    const huge = {
      method: 'GET',
      path: '/orders',
      headers: [['Authorization', `Bearer ${'a'.repeat(100 * 1024)}`]],
    } as const
    const res = await sendRaw(bigServer.port, huge)
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"')
    // Node's default 16 KiB header limit answers 431 before any middleware runs.
    expect((await sendRaw(server.port, huge)).status).toBe(431)
  })

  it('renders a ZeroTrustError thrown by a handler through errorHandler()', async () => {
    const res = await get('/orders/7', { authorization: `Bearer ${await sign()}` })
    expect(res.status).toBe(403)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('www-authenticate')).toBeNull()
    expect(await res.json()).toMatchObject({ code: 'access_denied', reason: 'not_owner' })
    expect(koaErrors).toEqual([])
  })

  it('rethrows other errors to Koa, without zerotrust leaking them', async () => {
    const res = await get('/crash', { authorization: `Bearer ${await sign()}` })
    expect(res.status).toBe(500)
    expect(await res.text()).not.toContain('hunter2')
    expect(koaErrors).toEqual([expect.objectContaining({ message: 'database password is hunter2' })])
  })

  it('fails closed when authorize() runs before authenticate()', async () => {
    const res = await get('/misconfigured')
    expect(res.status).toBe(500)
    expect(await res.json()).toMatchObject({ code: 'internal_error', detail: 'an internal error occurred' })
  })

  it('keeps each request its own auth under concurrency', async () => {
    const subjects = Array.from({ length: 20 }, (_, i) => `user-${i}`)
    const seen = await Promise.all(
      subjects.map(async (sub) => {
        const res = await get('/orders', { authorization: `Bearer ${await sign({ sub })}` })
        return ((await res.json()) as { auth: Auth }).auth.subject
      }),
    )
    expect(seen).toEqual(subjects)
  })

  it('rejects option mistakes at construction', () => {
    expect(() => authenticate({} as never)).toThrow(TypeError)
    expect(() => authenticate(tokens, { publicOrigin: 'api.example.com' })).toThrow(/"publicOrigin" option/)
    expect(() => authenticate(tokens, { onDecision: 'log' as never })).toThrow(/"onDecision" option/)
    expect(() => authenticate(tokens, { realm: 7 as never })).toThrow(/"realm" option/)
    expect(() => authenticate(tokens, { trustProxy: 'yes' as never })).toThrow(/"trustProxy" option/)
    expect(() => authorize({} as never)).toThrow(TypeError)
    expect(() => requireScopes([])).toThrow(/"scopes" option/)
    expect(() => requireScopes('orders:read', { match: 'some' as never })).toThrow(/"match" option/)
    expect(() => errorHandler({ realm: 7 as never })).toThrow(/"realm" option/)
  })
})

describe('@zerotrust/koa with your own middleware around it', () => {
  let app: TestHttpServer
  const origins: (string | undefined)[] = []
  const targets: string[] = []
  const probe: Authenticator = {
    layer: 'probe',
    authenticate: async (req) => {
      origins.push(req.origin)
      targets.push(req.target)
      if (req.headerValues('x-let-in').length === 0) {
        throw new ZeroTrustError('missing_credentials', 'no credentials')
      }
      return { subject: 'probe', scopes: [], claims: {} } as unknown as Auth
    },
  }

  beforeAll(async () => {
    const koa = new Koa()
    koa.silent = true
    // The user's own error middleware, outermost: it sees what zerotrust does not answer.
    koa.use(async (ctx, next) => {
      try {
        await next()
      } catch {
        ctx.status = 500
        ctx.body = { mine: true }
      }
    })
    koa.use(errorHandler({ realm: 'fallback' }))
    koa.use(async (ctx, next) => {
      // A rewrite, as koa-mount or a router prefix does; the view keeps what the client sent.
      if (ctx.path.startsWith('/v1/')) ctx.path = ctx.path.slice(3)
      await next()
    })
    koa.use(authenticate(probe, { trustProxy: (address) => address === '127.0.0.1' }))
    koa.use((ctx) => {
      if (ctx.path === '/denied') throw new ZeroTrustError('invalid_token', 'the token was revoked')
      throw new Error('the database is down')
    })
    app = await startHttpServer(koa.callback())
  })
  afterAll(() => app.close())

  beforeEach(() => {
    origins.length = 0
    targets.length = 0
  })

  it('answers authentication failures itself, keeps the target as sent and trusts the proxy rule', async () => {
    const res = await fetch(`${app.url}/v1/orders?page=2`, {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' },
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer')
    expect(await res.json()).toMatchObject({ code: 'missing_credentials' })
    expect(origins).toEqual(['https://api.example.com'])
    expect(targets).toEqual(['/v1/orders?page=2'])
  })

  it('never takes the origin from Host or forwarded headers of an untrusted rule', async () => {
    const res = await fetch(`${app.url}/orders`, { headers: { 'x-forwarded-host': 'api.example.com' } })
    expect(res.status).toBe(401)
    expect(origins).toEqual([undefined])
  })

  it('renders a thrown ZeroTrustError with the errorHandler realm and leaves other errors to you', async () => {
    const denied = await fetch(`${app.url}/denied`, { headers: { 'x-let-in': '1' } })
    expect(denied.status).toBe(401)
    expect(denied.headers.get('www-authenticate')).toBe(
      'Bearer realm="fallback", error="invalid_token", error_description="the token was revoked"',
    )
    const crashed = await fetch(`${app.url}/orders`, { headers: { 'x-let-in': '1' } })
    expect(crashed.status).toBe(500)
    expect(await crashed.json()).toEqual({ mine: true })
  })
})
