import { type Auth, type DecisionEvent, ZeroTrustError } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { sendRaw } from '@zerotrust/testkit'
import express from 'express'
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { listen } from '../test/http.js'
import { authenticate, authorize, errorHandler, requireScopes } from './index.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'
let sign: (claims?: JWTPayload) => Promise<string>
let server: Awaited<ReturnType<typeof listen>>
let bigServer: Awaited<ReturnType<typeof listen>>
const events: DecisionEvent[] = []

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }
  sign = (claims = {}) => {
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({
      iss: issuer,
      aud: audience,
      sub: 'alice',
      client_id: 'web',
      iat: now,
      exp: now + 600,
      jti: String(Math.random()),
      scope: 'orders:read',
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .sign(privateKey)
  }
  const tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: { keys: [jwk] } })

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
  server = await listen(app)
  bigServer = await listen(app, { maxHeaderSize: 256 * 1024 })
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
  it('sets req.auth and lets an authorized request through', async () => {
    const res = await get('/orders', { authorization: `Bearer ${await sign()}`, 'x-request-id': 'req-42' })
    expect(res.status).toBe(200)
    const { auth } = (await res.json()) as { auth: Auth }
    expect(auth).toMatchObject({
      subject: 'alice',
      clientId: 'web',
      scopes: ['orders:read'],
      scheme: 'Bearer',
    })
    expect(events).toEqual([
      expect.objectContaining({
        layer: 'jwt',
        outcome: 'allow',
        code: 'ok',
        subject: 'alice',
        path: '/orders',
        requestId: 'req-42',
      }),
      expect.objectContaining({ layer: 'scopes', outcome: 'allow', code: 'ok', subject: 'alice' }),
    ])
  })

  it('answers a missing token with 401 and a bare challenge', async () => {
    const res = await get('/orders')
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="orders"')
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 401, code: 'missing_credentials' })
    expect(events).toEqual([
      expect.objectContaining({ layer: 'jwt', outcome: 'deny', code: 'missing_credentials', status: 401 }),
    ])
  })

  it('answers an expired token with 401 invalid_token', async () => {
    const now = Math.floor(Date.now() / 1000)
    const res = await get('/orders', {
      authorization: `Bearer ${await sign({ iat: now - 600, exp: now - 60 })}`,
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="orders", error="invalid_token", error_description="the access token expired"',
    )
    expect(events[0]).toMatchObject({ code: 'invalid_token', reason: 'expired' })
  })

  it('answers a missing scope with 403 insufficient_scope naming the scope', async () => {
    const res = await get('/orders', { authorization: `Bearer ${await sign()}` }, 'POST')
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="orders", error="insufficient_scope", error_description="the access token lacks a required scope", scope="orders:write"',
    )
    expect(events.map((e) => `${e.layer}:${e.outcome}`)).toEqual(['jwt:allow', 'scopes:deny'])
  })

  it('answers two Authorization headers with 400 invalid_request', async () => {
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
  })

  it('answers a token in the query string with 400 and keeps the query out of the events', async () => {
    const res = await get(`/orders?access_token=${await sign()}`)
    expect(res.status).toBe(400)
    expect(events[0]).toMatchObject({ path: '/orders', reason: 'token_in_query' })
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
