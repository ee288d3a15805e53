import { type Auth, type Authenticator, type DecisionEvent, ZeroTrustError } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { sendRaw, testIssuer } from '@zerotrust/testkit'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { JWTPayload } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { serveApp } from '../test/serve.js'
import { authenticate, authorize, errorHandler, requireScopes } from './index.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'
let sign: (claims?: JWTPayload) => Promise<string>
let tokens: Authenticator
let app: Hono
let server: Awaited<ReturnType<typeof serveApp>>
let bigServer: Awaited<ReturnType<typeof serveApp>>
const events: DecisionEvent[] = []
const otherErrors: Error[] = []

const allowAll = { layer: 'scopes', authorize: async () => ({ allowed: true as const }) }

beforeAll(async () => {
  const idp = await testIssuer({ issuer, audience })
  sign = idp.sign
  tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })

  app = new Hono()
  app.onError(
    errorHandler({
      fallback: (error, c) => {
        otherErrors.push(error)
        return c.json({ message: 'something went wrong' }, 500)
      },
    }),
  )
  app.use(async (c, next) => {
    // Headers set by earlier middleware stay on zerotrust's answers.
    c.header('x-served-by', 'orders')
    await next()
  })
  // Registered before authenticate(): public, and fails closed.
  app.get('/health', (c) => c.json({ ok: true }))
  app.get('/misconfigured', authorize(allowAll), (c) => c.json({ reached: true }))
  app.use(
    authenticate(tokens, {
      realm: 'orders',
      publicOrigin: 'https://api.example.com',
      onDecision: (e) => events.push(e),
    }),
  )
  app.get('/orders', requireScopes('orders:read'), (c) => c.json({ auth: c.get('auth') }))
  app.post('/orders', requireScopes('orders:write'), (c) => c.json({ created: true }, 201))
  app.get('/orders/:id', () => {
    // A handler may deny on its own terms with a ZeroTrustError; errorHandler renders it.
    throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
  })
  app.get('/crash', () => {
    throw new Error('database password is hunter2')
  })
  server = await serveApp(app)
  bigServer = await serveApp(app, { maxHeaderSize: 256 * 1024 })
})

afterAll(async () => {
  await server.close()
  await bigServer.close()
})

beforeEach(() => {
  events.length = 0
  otherErrors.length = 0
})

/** The same app, reached over @hono/node-server and through `app.request` without any server. */
const transports = {
  'node-server': (path: string, init: RequestInit) => fetch(`${server.url}${path}`, init),
  'app.request': (path: string, init: RequestInit) => app.request(path, init),
}

describe.each(Object.entries(transports))('@zerotrust/hono on %s', (_name, send) => {
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    Promise.resolve(send(path, { method, headers }))

  it('answers a missing token with 401 and a bare challenge, keeping earlier headers', async () => {
    const res = await get('/orders')
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="orders"')
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('x-served-by')).toBe('orders')
    expect(await res.json()).toMatchObject({ status: 401, code: 'missing_credentials' })
    expect(events).toEqual([
      expect.objectContaining({ layer: 'jwt', outcome: 'deny', code: 'missing_credentials', status: 401 }),
    ])
    // Answered, not thrown: app.onError never sees an authentication failure.
    expect(otherErrors).toEqual([])
  })

  it('renders a ZeroTrustError thrown by a handler through errorHandler()', async () => {
    const res = await get('/orders/7', { authorization: `Bearer ${await sign()}` })
    expect(res.status).toBe(403)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('www-authenticate')).toBeNull()
    expect(await res.json()).toMatchObject({ code: 'access_denied', reason: 'not_owner' })
    expect(otherErrors).toEqual([])
  })

  it('hands other errors to the fallback, without zerotrust leaking them', async () => {
    const res = await get('/crash', { authorization: `Bearer ${await sign()}` })
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ message: 'something went wrong' })
    expect(otherErrors).toEqual([expect.objectContaining({ message: 'database password is hunter2' })])
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
})

describe('@zerotrust/hono and repeated headers', () => {
  it('sees two Authorization headers on @hono/node-server and answers 400 multiple_credentials', async () => {
    const token = await sign()
    const res = await sendRaw(server.port, {
      method: 'GET',
      path: '/orders',
      headers: [
        ['Authorization', `Bearer ${token}`],
        ['Authorization', `Bearer ${token}`],
      ],
    })
    expect(res.status).toBe(400)
    expect(res.headers['www-authenticate']).toContain('error="invalid_request"')
    expect(JSON.parse(res.body)).toMatchObject({ code: 'invalid_request', reason: 'multiple_credentials' })
  })

  it('answers two Authorization headers merged by Fetch Headers with 400 as well', async () => {
    const token = await sign()
    const headers = new Headers()
    headers.append('authorization', `Bearer ${token}`)
    headers.append('authorization', `Bearer ${token}`)
    const res = await app.request('/orders', { headers })
    expect(res.status).toBe(400)
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"')
    expect(await res.json()).toMatchObject({ code: 'invalid_request', reason: 'malformed_authorization' })
  })

  it('answers a 100 KiB token with 401 when the server admits such headers', async () => {
    const huge = {
      method: 'GET',
      path: '/orders',
      headers: [['Authorization', `Bearer ${'a'.repeat(100 * 1024)}`]],
    } as const
    const res = await sendRaw(bigServer.port, huge)
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"')
    // Node's default 16 KiB header limit answers 431 before Hono runs.
    expect((await sendRaw(server.port, huge)).status).toBe(431)
  })
})

describe('@zerotrust/hono request views', () => {
  interface Seen {
    readonly origin: string | undefined
    readonly target: string
    readonly authorization: readonly string[]
    readonly remote: string | undefined
  }
  const seen: Seen[] = []
  let remote: string | undefined
  const probe: Authenticator = {
    layer: 'probe',
    authenticate: async (req) => {
      seen.push({
        origin: req.origin,
        target: req.target,
        authorization: req.headerValues('authorization'),
        remote,
      })
      throw new ZeroTrustError('missing_credentials', 'no credentials')
    },
  }
  const trustProxy = (address: string | undefined) => {
    remote = address
    return address === '127.0.0.1'
  }
  let probeApp: Hono
  let probeServer: Awaited<ReturnType<typeof serveApp>>

  beforeAll(async () => {
    const orders = new Hono()
    orders.use(authenticate(probe, { trustProxy }))
    orders.get('/*', (c) => c.text('unreachable'))
    probeApp = new Hono()
    probeApp.mount('/api', orders.fetch)
    probeApp.get('/internal', (c) =>
      // A request the app builds and dispatches itself, passing on the Node bindings.
      orders.fetch(
        new Request('http://internal/orders/1', { headers: { authorization: 'Bearer abc' } }),
        c.env,
      ),
    )
    probeServer = await serveApp(probeApp)
  })
  afterAll(() => probeServer.close())
  beforeEach(() => {
    seen.length = 0
    remote = undefined
  })

  it('reads the Node request on @hono/node-server: raw headers, peer address, target as sent', async () => {
    const res = await sendRaw(probeServer.port, {
      method: 'GET',
      path: '/api/orders?page=2',
      headers: [
        ['Authorization', 'Bearer a'],
        ['Authorization', 'Bearer b'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'api.example.com'],
      ],
    })
    expect(res.status).toBe(401)
    expect(seen).toEqual([
      {
        origin: 'https://api.example.com',
        target: '/api/orders?page=2',
        authorization: ['Bearer a', 'Bearer b'],
        remote: '127.0.0.1',
      },
    ])
  })

  it('reads the Fetch request under app.request, where no peer address is known', async () => {
    const res = await probeApp.request('/api/orders', {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' },
    })
    expect(res.status).toBe(401)
    expect(seen).toEqual([{ origin: undefined, target: '/orders', authorization: [], remote: undefined }])
  })

  it('never reads the Node request for a request the app dispatched itself', async () => {
    const res = await fetch(`${probeServer.url}/internal`, { headers: { authorization: 'Bearer outer' } })
    expect(res.status).toBe(401)
    expect(seen).toEqual([
      { origin: undefined, target: '/orders/1', authorization: ['Bearer abc'], remote: undefined },
    ])
  })
})

describe('@zerotrust/hono errorHandler() without a fallback', () => {
  it('answers as Hono does: HTTPException with its response, anything else with a logged 500', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    const plain = new Hono()
    plain.onError(errorHandler({ realm: 'orders' }))
    plain.get('/teapot', () => {
      throw new HTTPException(418, { message: 'short and stout' })
    })
    plain.get('/crash', () => {
      throw new Error('database password is hunter2')
    })
    plain.get('/revoked', () => {
      throw new ZeroTrustError('invalid_token', 'the access token was revoked', { reason: 'revoked' })
    })
    try {
      const teapot = await plain.request('/teapot')
      expect(teapot.status).toBe(418)
      expect(await teapot.text()).toBe('short and stout')
      const crash = await plain.request('/crash')
      expect(crash.status).toBe(500)
      expect(await crash.text()).toBe('Internal Server Error')
      expect(logged).toHaveBeenCalledTimes(1)
      const revoked = await plain.request('/revoked')
      expect(revoked.status).toBe(401)
      expect(revoked.headers.get('www-authenticate')).toBe(
        'Bearer realm="orders", error="invalid_token", error_description="the access token was revoked"',
      )
    } finally {
      logged.mockRestore()
    }
  })
})

describe('@zerotrust/hono options', () => {
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
    expect(() => errorHandler({ fallback: 'log' as never })).toThrow(/"fallback" option/)
  })
})
