import { type Auth, type DecisionEvent, ZeroTrustError } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { sendRaw, startHttpServer, type TestHttpServer, testIssuer } from '@zerotrust/testkit'
import express from 'express'
import type { JWTPayload } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { authenticate, authorize, errorHandler, requireScopes } from './index.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'
let sign: (claims?: JWTPayload) => Promise<string>
let server: TestHttpServer
let bigServer: TestHttpServer
const events: DecisionEvent[] = []

beforeAll(async () => {
  const idp = await testIssuer({ issuer, audience })
  sign = idp.sign
  const tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })

  const app = express()
  // Mounted before authenticate(): fails closed.
  app.get('/misconfigured', authorize(requireScopesAuthorizer()), (_req, res) => {
    res.json({ reached: true })
  })
  app.use(
    authenticate(tokens, {
      realm: 'orders',
      publicOrigin: 'https://api.example.com',
      onDecision: (e) => events.push(e),
    }),
  )
  app.get('/orders', requireScopes('orders:read'), (req, res) => {
    res.json({ auth: req.auth })
  })
  app.post('/orders', requireScopes('orders:write'), (_req, res) => {
    res.status(201).json({ created: true })
  })
  app.get('/orders/:id', (req, _res, next) => {
    // A handler may deny on its own terms with a ZeroTrustError; errorHandler renders it.
    next(new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' }))
    void req
  })
  app.get('/crash', () => {
    throw new Error('database password is hunter2')
  })
  app.use(errorHandler())
  server = await startHttpServer(app)
  bigServer = await startHttpServer(app, { maxHeaderSize: 256 * 1024 })
})

afterAll(async () => {
  await server.close()
  await bigServer.close()
})

beforeEach(() => {
  events.length = 0
})

function requireScopesAuthorizer() {
  return { layer: 'scopes', authorize: async () => ({ allowed: true as const }) }
}

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${server.url}${path}`, { method, headers })

describe('@zerotrust/express', () => {
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
    const defaultServer = await sendRaw(server.port, huge)
    expect(defaultServer.status).toBe(431)
  })

  it('renders a ZeroTrustError thrown by a handler through errorHandler()', async () => {
    const res = await get('/orders/7', { authorization: `Bearer ${await sign()}` })
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ code: 'access_denied', reason: 'not_owner' })
  })

  it('leaves other errors to Express, without zerotrust leaking them', async () => {
    const res = await get('/crash', { authorization: `Bearer ${await sign()}` })
    expect(res.status).toBe(500)
  })

  it('fails closed when authorize() runs before authenticate()', async () => {
    const res = await get('/misconfigured')
    expect(res.status).toBe(500)
    expect(await res.json()).toMatchObject({ code: 'internal_error', detail: 'an internal error occurred' })
  })

  it('rejects option mistakes at construction', () => {
    expect(() => authenticate({} as never)).toThrow(TypeError)
    expect(() =>
      authenticate(jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: { keys: [] } }), {
        publicOrigin: 'api.example.com',
      }),
    ).toThrow(/"publicOrigin" option/)
    expect(() =>
      authenticate({ layer: 'x', authenticate: async () => ({}) as Auth }, { onDecision: 'log' as never }),
    ).toThrow(/"onDecision" option/)
    expect(() => authorize({} as never)).toThrow(TypeError)
    expect(() => requireScopes([])).toThrow(/"scopes" option/)
  })
})
