import { randomBytes } from 'node:crypto'
import { anyOf, renderError } from '@zerotrust/core'
import { presentedToken } from '@zerotrust/core/layer'
import { jwtBearer } from '@zerotrust/jwt'
import { generateSigningKey, signAccessToken, toJwks } from '@zerotrust/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  bearer,
  type FakeEndpoint,
  headers,
  json,
  now,
  rejection,
  startFakeEndpoint,
} from '../test/fixtures.js'
import { type IntrospectionOptions, introspection } from './index.js'

type Res = Parameters<Parameters<FakeEndpoint['handle']>[0]>[1]

const audience = 'api://orders'
let idp: FakeEndpoint

beforeAll(async () => {
  idp = await startFakeEndpoint()
})
afterAll(() => idp.close())
afterEach(() => {
  vi.useRealTimers()
})

const opaque = () => randomBytes(32).toString('base64url')

const options = (overrides: Partial<IntrospectionOptions> = {}): IntrospectionOptions => ({
  issuer: idp.origin,
  audience,
  introspectionEndpoint: idp.endpoint,
  clientId: 'orders-api',
  clientAuthentication: { method: 'client_secret_basic', secret: 'orders-api-secret' },
  realm: 'orders',
  ...overrides,
})

const activeAnswer = (overrides: Record<string, unknown> = {}) => ({
  active: true,
  iss: idp.origin,
  aud: audience,
  sub: 'alice',
  client_id: 'web-app',
  scope: 'orders:read orders:write',
  token_type: 'Bearer',
  iat: now(),
  exp: now() + 300,
  ...overrides,
})

const answer = (body: unknown, status = 200) => idp.handle((_req, res) => json(res, body, status))

const invalidToken = (reason: string) => ({
  code: 'invalid_token',
  reason,
  status: 401,
  headers: expect.objectContaining({
    'www-authenticate': expect.stringMatching(/^Bearer realm="orders", error="invalid_token"/),
  }),
})

const unavailable = (reason: string) => ({
  code: 'dependency_unavailable',
  reason,
  status: 503,
  headers: expect.objectContaining({ 'retry-after': '5' }),
})

describe('introspection: active tokens', () => {
  it('maps an active answer to an opaque Auth', async () => {
    answer(activeAnswer({ cnf: undefined }))
    const token = opaque()
    const auth = await introspection(options()).authenticate(bearer(token))
    expect(auth).toMatchObject({
      subject: 'alice',
      issuer: idp.origin,
      audience: [audience],
      clientId: 'web-app',
      scopes: ['orders:read', 'orders:write'],
      scheme: 'Bearer',
      format: 'opaque',
      cnf: undefined,
    })
    expect(Object.isFrozen(auth.claims)).toBe(true)
    const form = idp.forms.at(-1)
    expect(form?.get('token')).toBe(token)
    expect(form?.get('token_type_hint')).toBe('access_token')
    // RFC 6749 §2.3.1: both parts are form-urlencoded before the Basic encoding.
    const [scheme, encoded] = idp.authorizations.at(-1)?.split(' ') ?? []
    expect(scheme).toBe('Basic')
    const pair = Buffer.from(encoded ?? '', 'base64')
      .toString()
      .split(':')
      .map(decodeURIComponent)
    expect(pair).toEqual(['orders-api', 'orders-api-secret'])
  })

  it('authenticates with client_secret_post', async () => {
    answer(activeAnswer())
    const tokens = introspection(
      options({ clientAuthentication: { method: 'client_secret_post', secret: 'posted-secret' } }),
    )
    await tokens.authenticate(bearer(opaque()))
    expect(idp.forms.at(-1)?.get('client_secret')).toBe('posted-secret')
    expect(idp.authorizations.at(-1)).toBeUndefined()
  })

  it('authenticates with private_key_jwt', async () => {
    answer(activeAnswer())
    const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    const tokens = introspection(
      options({ clientAuthentication: { method: 'private_key_jwt', key: { key: privateKey, kid: 'k1' } } }),
    )
    await tokens.authenticate(bearer(opaque()))
    const form = idp.forms.at(-1)
    expect(form?.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    expect(form?.get('client_assertion')?.split('.')).toHaveLength(3)
  })

  it('accepts an answer without the optional members', async () => {
    answer({ active: true })
    const auth = await introspection(options()).authenticate(bearer(opaque()))
    expect(auth).toMatchObject({ subject: undefined, audience: [], scopes: [], expiresAt: undefined })
  })

  it('accepts an "aud" array that contains this resource server', async () => {
    answer(activeAnswer({ aud: ['api://billing', audience] }))
    await expect(
      Promise.resolve(introspection(options()).authenticate(bearer(opaque()))),
    ).resolves.toMatchObject({
      audience: ['api://billing', audience],
    })
  })

  it('records the accepted token for an exchange, out of sight, also on a cache hit (issue 17)', async () => {
    answer(activeAnswer())
    const tokens = introspection(options())
    const token = opaque()
    const cold = await tokens.authenticate(bearer(token))
    const hit = await tokens.authenticate(bearer(token))
    expect(presentedToken(cold)).toBe(token)
    expect(presentedToken(hit)).toBe(token)
    expect(presentedToken(await tokens.verify(token))).toBe(token)
    expect(JSON.stringify(cold)).not.toContain(token)
  })
})

describe('introspection: rejected tokens', () => {
  it.each([
    ['active: false', () => ({ active: false }), 'inactive'],
    ['another issuer', () => activeAnswer({ iss: 'https://evil.example.com' }), 'claim:iss'],
    ['another audience', () => activeAnswer({ aud: 'api://billing' }), 'claim:aud'],
    ['an expired token', () => activeAnswer({ exp: now() - 60 }), 'expired'],
    ['a token not yet valid', () => activeAnswer({ nbf: now() + 60 }), 'not_yet_valid'],
  ])('refuses %s with 401', async (_name, body, reason) => {
    answer(body())
    expect(await rejection(introspection(options()).authenticate(bearer(opaque())))).toEqual(
      invalidToken(reason),
    )
  })

  it('tolerates clock skew within clockTolerance', async () => {
    answer(activeAnswer({ exp: now() - 2, nbf: now() + 2 }))
    await expect(
      Promise.resolve(introspection(options()).authenticate(bearer(opaque()))),
    ).resolves.toBeDefined()
  })

  it('refuses a DPoP-bound token presented as Bearer (RFC 9449 §7.2) and exposes cnf through verify()', async () => {
    answer(activeAnswer({ token_type: 'DPoP', cnf: { jkt: 'thumbprint' } }))
    const tokens = introspection(options())
    const token = opaque()
    expect(await rejection(tokens.authenticate(bearer(token)))).toEqual(invalidToken('dpop_bound'))
    await expect(tokens.verify(token, { binding: 'checked-by-caller' })).resolves.toMatchObject({
      cnf: { jkt: 'thumbprint' },
    })
    // Without a proof to check it against, verify() refuses it too.
    await expect(tokens.verify(token)).rejects.toMatchObject({ reason: 'dpop_bound' })
  })

  it('refuses a token with token_type DPoP as Bearer even without cnf', async () => {
    answer(activeAnswer({ token_type: 'DPoP' }))
    expect(await rejection(introspection(options()).authenticate(bearer(opaque())))).toEqual(
      invalidToken('dpop_bound'),
    )
  })

  it('refuses a certificate-bound token over a connection without that certificate (RFC 8705 §3)', async () => {
    answer(activeAnswer({ cnf: { 'x5t#S256': 'A'.repeat(43) } }))
    expect(await rejection(introspection(options()).authenticate(bearer(opaque())))).toEqual(
      invalidToken('certificate_mismatch'),
    )
  })

  it('does not introspect a JWT-shaped token unless acceptJwtShaped is set', async () => {
    answer(activeAnswer())
    const before = idp.count
    const jwtLike = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln'
    expect(await rejection(introspection(options()).authenticate(bearer(jwtLike)))).toEqual(
      invalidToken('jwt_shaped'),
    )
    expect(idp.count).toBe(before)
    await expect(
      introspection(options({ acceptJwtShaped: true })).authenticate(bearer(jwtLike)),
    ).resolves.toBeDefined()
  })

  it('challenges a request without credentials, without an error attribute (RFC 6750 §3.1)', async () => {
    const result = await rejection(introspection(options()).authenticate(headers({})))
    expect(result).toMatchObject({ code: 'missing_credentials', status: 401 })
    expect(result.headers['www-authenticate']).toBe('Bearer realm="orders"')
  })

  it('refuses an oversized token before any request', async () => {
    const before = idp.count
    const tokens = introspection(options({ maxTokenLength: 64 }))
    expect(await rejection(tokens.authenticate(bearer('a'.repeat(65))))).toEqual(
      invalidToken('token_too_large'),
    )
    expect(await rejection(tokens.verify('a'.repeat(65)))).toEqual(invalidToken('token_too_large'))
    expect(idp.count).toBe(before)
  })

  it('refuses a token with characters outside b64token', async () => {
    expect(await rejection(introspection(options()).verify('abc def'))).toMatchObject({
      code: 'invalid_request',
      status: 400,
    })
  })
})

describe('introspection: a failing endpoint is a 503, never a 401 and never an allow', () => {
  it('times out on an endpoint that hangs', async () => {
    idp.handle(() => {})
    const started = Date.now()
    expect(await rejection(introspection(options({ timeout: 200 })).authenticate(bearer(opaque())))).toEqual(
      unavailable('introspection_timeout'),
    )
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('times out on an endpoint that sends headers and then stalls the body', async () => {
    idp.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"active":')
    })
    expect(await rejection(introspection(options({ timeout: 200 })).authenticate(bearer(opaque())))).toEqual(
      unavailable('introspection_timeout'),
    )
  })

  it('times out on a client secret getter that hangs', async () => {
    const secret = () => new Promise<string>(() => {})
    const tokens = introspection(
      options({ timeout: 100, clientAuthentication: { method: 'client_secret_basic', secret } }),
    )
    expect(await rejection(tokens.authenticate(bearer(opaque())))).toEqual(
      unavailable('introspection_timeout'),
    )
  })

  it.each([
    ['a 500', (res: Res) => res.writeHead(500).end('boom')],
    [
      'a 502 with an OAuth error body',
      (res: Res) => json(res, { error: 'server_error', error_description: 'database <down>' }, 502),
    ],
    ['a redirect', (res: Res) => res.writeHead(302, { location: 'https://evil.example.com/' }).end()],
  ])('answers 503 to %s', async (_name, respond) => {
    idp.handle((_req, res) => respond(res))
    const result = await rejection(introspection(options()).authenticate(bearer(opaque())))
    expect(result).toEqual(unavailable('introspection_unavailable'))
  })

  it.each([
    [
      'a non-JSON body',
      (res: Res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>upstream text</html>'),
    ],
    [
      'invalid JSON',
      (res: Res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"active": tru'),
    ],
    ['a JSON array', (res: Res) => json(res, [true])],
    ['active: "yes"', (res: Res) => json(res, { active: 'yes' })],
    ['no "active" member', (res: Res) => json(res, { sub: 'alice' })],
    ['a numeric "scope"', (res: Res) => json(res, activeAnswer({ scope: 42 }))],
    ['a string "exp"', (res: Res) => json(res, activeAnswer({ exp: 'tomorrow' }))],
    ['a malformed "cnf"', (res: Res) => json(res, activeAnswer({ cnf: { jkt: 1 } }))],
    [
      'an unsolicited JWT answer',
      (res: Res) =>
        res.writeHead(200, { 'content-type': 'application/token-introspection+jwt' }).end('a.b.c'),
    ],
  ])('answers 503 to %s', async (_name, respond) => {
    idp.handle((_req, res) => respond(res))
    const result = await rejection(introspection(options()).authenticate(bearer(opaque())))
    expect(result).toEqual(unavailable('introspection_malformed'))
  })

  it.each([
    ['declared', true],
    ['chunked', false],
  ])('answers 503 to a 10 MB body (%s length)', async (_name, declared) => {
    const body = Buffer.alloc(10 * 1024 * 1024, 0x20)
    idp.handle((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(declared ? { 'content-length': String(body.length) } : {}),
      })
      res.end(body)
    })
    expect(await rejection(introspection(options()).authenticate(bearer(opaque())))).toEqual(
      unavailable('introspection_too_large'),
    )
  })

  it('answers 503 when the endpoint refuses our client (a configuration error, not the caller’s)', async () => {
    answer({ error: 'invalid_client' }, 401)
    expect(await rejection(introspection(options()).authenticate(bearer(opaque())))).toEqual(
      unavailable('introspection_rejected'),
    )
  })

  it('sends the request once more when the connection is reset under it', async () => {
    let resets = 0
    idp.handle((req, res) => {
      if (resets++ === 0) req.socket.destroy()
      else json(res, activeAnswer())
    })
    const before = idp.count
    await expect(
      Promise.resolve(introspection(options()).authenticate(bearer(opaque()))),
    ).resolves.toBeDefined()
    expect(idp.count - before).toBe(2)
  })

  it('answers 503 when the connection is reset twice', async () => {
    idp.handle((req) => req.socket.destroy())
    expect(await rejection(introspection(options()).authenticate(bearer(opaque())))).toEqual(
      unavailable('introspection_unavailable'),
    )
  })

  it('answers 503 when the endpoint is down', async () => {
    const down = await startFakeEndpoint()
    await down.close()
    const tokens = introspection(options({ introspectionEndpoint: down.endpoint }))
    expect(await rejection(tokens.authenticate(bearer(opaque())))).toEqual(
      unavailable('introspection_unavailable'),
    )
  })

  it('answers 503 when the client secret getter fails', async () => {
    const secret = () => Promise.reject(new Error('vault sealed'))
    const tokens = introspection(options({ clientAuthentication: { method: 'client_secret_basic', secret } }))
    expect(await rejection(tokens.authenticate(bearer(opaque())))).toEqual(
      unavailable('client_secret_unavailable'),
    )
  })

  it('never renders upstream text', async () => {
    idp.handle((_req, res) => json(res, { error: 'server_error', error_description: 'SECRET-UPSTREAM' }, 500))
    try {
      await introspection(options()).authenticate(bearer(opaque()))
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message).not.toContain('SECRET-UPSTREAM')
      expect(renderError(error).body).not.toContain('SECRET-UPSTREAM')
    }
  })

  it('does not cache a failure: the next request asks again', async () => {
    const tokens = introspection(options())
    const token = opaque()
    idp.handle((_req, res) => res.writeHead(500).end())
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).rejects.toMatchObject({ status: 503 })
    answer(activeAnswer())
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toMatchObject({
      subject: 'alice',
    })
  })
})

describe('introspection: endpoint discovery', () => {
  const discovered = () => {
    const { introspectionEndpoint: _explicit, ...rest } = options()
    return introspection(rest)
  }

  it('finds the endpoint in the issuer metadata, once', async () => {
    let discoveries = 0
    idp.handle((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        discoveries++
        json(res, { issuer: idp.origin, introspection_endpoint: idp.endpoint })
      } else {
        json(res, activeAnswer())
      }
    })
    const tokens = discovered()
    await tokens.authenticate(bearer(opaque()))
    await tokens.authenticate(bearer(opaque()))
    expect(discoveries).toBe(1)
  })

  it('falls back to RFC 8414 metadata', async () => {
    idp.handle((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        json(res, { issuer: idp.origin, introspection_endpoint: idp.endpoint })
      } else if (req.url === '/introspect') {
        json(res, activeAnswer())
      } else {
        res.writeHead(404).end()
      }
    })
    await expect(Promise.resolve(discovered().authenticate(bearer(opaque())))).resolves.toMatchObject({
      subject: 'alice',
    })
  })

  it.each([
    ['metadata for another issuer', { issuer: 'https://evil.example.com', introspection_endpoint: 'x' }],
    ['metadata without an introspection endpoint', { issuer: 'ISSUER' }],
    [
      'a plain http endpoint off loopback',
      { issuer: 'ISSUER', introspection_endpoint: 'http://idp.example.com/i' },
    ],
  ])('answers 503 to %s, and retries discovery on the next request', async (_name, metadata) => {
    idp.handle((req, res) => {
      if (req.url?.startsWith('/.well-known/')) {
        json(res, { ...metadata, issuer: metadata.issuer === 'ISSUER' ? idp.origin : metadata.issuer })
      } else {
        json(res, activeAnswer())
      }
    })
    const tokens = discovered()
    expect(await rejection(tokens.authenticate(bearer(opaque())))).toEqual(
      unavailable('discovery_unavailable'),
    )
    idp.handle((req, res) => {
      if (req.url?.startsWith('/.well-known/')) {
        json(res, { issuer: idp.origin, introspection_endpoint: idp.endpoint })
      } else {
        json(res, activeAnswer())
      }
    })
    await expect(Promise.resolve(tokens.authenticate(bearer(opaque())))).resolves.toBeDefined()
  })
})

describe('introspection: cache and coalescing', () => {
  it('1000 concurrent requests with one new token cost exactly one introspection', async () => {
    idp.handle((_req, res) => setTimeout(() => json(res, activeAnswer()), 50))
    const tokens = introspection(options())
    const token = opaque()
    const before = idp.count
    const results = await Promise.all(Array.from({ length: 1000 }, () => tokens.authenticate(bearer(token))))
    expect(idp.count - before).toBe(1)
    expect(new Set(results).size).toBe(1)
  })

  it('shares one failure among concurrent requests too', async () => {
    idp.handle((_req, res) => setTimeout(() => res.writeHead(500).end(), 50))
    const tokens = introspection(options())
    const token = opaque()
    const before = idp.count
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => tokens.authenticate(bearer(token))),
    )
    expect(idp.count - before).toBe(1)
    expect(results.every((r) => r.status === 'rejected')).toBe(true)
  })

  it('serves a cache hit without any I/O', async () => {
    answer(activeAnswer())
    const fetch = vi.fn((...args: Parameters<typeof globalThis.fetch>) => globalThis.fetch(...args))
    const tokens = introspection(options({ fetch }))
    const token = opaque()
    const first = await tokens.authenticate(bearer(token))
    expect(fetch).toHaveBeenCalledTimes(1)
    // Without a promise either (issue 14): adapters go on at once.
    const second = tokens.authenticate(bearer(token))
    expect(second).toBe(first)
    expect(fetch).toHaveBeenCalledTimes(1)
    // A refusal is still a rejected promise.
    const missing = tokens.authenticate(bearer(''))
    expect(missing).toBeInstanceOf(Promise)
    await expect(missing).rejects.toMatchObject({ code: 'invalid_request' })
  })

  it('keys entries by the whole token: another token is introspected', async () => {
    answer(activeAnswer())
    const tokens = introspection(options())
    const token = opaque()
    await tokens.authenticate(bearer(token))
    const before = idp.count
    await tokens.authenticate(bearer(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`))
    expect(idp.count - before).toBe(1)
  })

  it('never serves an active answer past its exp', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    answer(activeAnswer({ exp: now() + 30 }))
    const tokens = introspection(options({ clockToleranceSeconds: 0 }))
    const token = opaque()
    await tokens.authenticate(bearer(token))
    vi.setSystemTime(Date.now() + 31_000)
    answer({ active: false })
    expect(await rejection(tokens.authenticate(bearer(token)))).toEqual(invalidToken('inactive'))
  })

  it.each([{ maxTtlSeconds: 60 }, { maxTtl: 60 }])(
    'keeps an active answer at most cache.maxTtlSeconds, or its deprecated name maxTtl: %o (issue 13)',
    async (cache) => {
      vi.useFakeTimers({ toFake: ['Date'] })
      answer(activeAnswer({ exp: now() + 3600 }))
      const tokens = introspection(options({ cache }))
      const token = opaque()
      await tokens.authenticate(bearer(token))
      vi.setSystemTime(Date.now() + 59_000)
      answer({ active: false })
      await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
      vi.setSystemTime(Date.now() + 2_000)
      expect(await rejection(tokens.authenticate(bearer(token)))).toEqual(invalidToken('inactive'))
    },
  )

  it.each([{ inactiveTtlSeconds: 10 }, { inactiveTtl: 10 }])(
    'keeps an inactive answer cache.inactiveTtlSeconds, or its deprecated name inactiveTtl: %o (issue 13)',
    async (cache) => {
      vi.useFakeTimers({ toFake: ['Date'] })
      answer({ active: false })
      const tokens = introspection(options({ cache }))
      const token = opaque()
      await rejection(tokens.authenticate(bearer(token)))
      const before = idp.count
      answer(activeAnswer())
      expect(await rejection(tokens.authenticate(bearer(token)))).toEqual(invalidToken('inactive'))
      expect(idp.count).toBe(before)
      vi.setSystemTime(Date.now() + 11_000)
      await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
    },
  )

  it('keeps an answer that failed our checks cache.inactiveTtl too', async () => {
    answer(activeAnswer({ aud: 'api://billing' }))
    const tokens = introspection(options())
    const token = opaque()
    expect(await rejection(tokens.verify(token))).toEqual(invalidToken('claim:aud'))
    const before = idp.count
    expect(await rejection(tokens.verify(token))).toEqual(invalidToken('claim:aud'))
    expect(idp.count).toBe(before)
  })

  it('asks every time with cache: false', async () => {
    answer(activeAnswer())
    const tokens = introspection(options({ cache: false }))
    const token = opaque()
    const before = idp.count
    await tokens.authenticate(bearer(token))
    await tokens.authenticate(bearer(token))
    expect(idp.count - before).toBe(2)
  })
})

describe('introspection: a flood of random tokens cannot reach the endpoint unbounded (issue 12)', () => {
  /** Answers after `delay` ms and records the most requests the endpoint held at once. */
  function slowEndpoint(delay: number, body: () => unknown = () => ({ active: false })) {
    const seen = { inFlight: 0, most: 0 }
    idp.handle((_req, res) => {
      seen.inFlight++
      seen.most = Math.max(seen.most, seen.inFlight)
      res.on('close', () => {
        seen.inFlight--
      })
      setTimeout(() => json(res, body()), delay)
    })
    return seen
  }

  const flood = (authenticate: (token: string) => unknown, count: number) =>
    Promise.all(Array.from({ length: count }, () => rejection(authenticate(opaque()))))

  const overloaded = unavailable('introspection_overloaded')

  it('keeps at most maxConcurrent introspections in flight for 200 distinct random tokens', async () => {
    const seen = slowEndpoint(20)
    const tokens = introspection(options({ maxConcurrent: 8, maxQueued: 200 }))
    const before = idp.count
    const results = await flood((token) => tokens.authenticate(bearer(token)), 200)
    expect(results).toEqual(Array.from({ length: 200 }, () => invalidToken('inactive')))
    expect(idp.count - before).toBe(200)
    expect(seen.most).toBeLessThanOrEqual(8)
  })

  it('caps the in-flight introspections by default', async () => {
    const seen = slowEndpoint(20)
    const tokens = introspection(options())
    const results = await flood((token) => tokens.authenticate(bearer(token)), 200)
    expect(seen.most).toBeLessThanOrEqual(16)
    // Never an allow: each answer is the endpoint's rejection or ours.
    for (const result of results) expect([invalidToken('inactive'), overloaded]).toContainEqual(result)
  })

  it('answers 503 introspection_overloaded with Retry-After beyond the queue, never 401', async () => {
    const seen = slowEndpoint(50)
    const tokens = introspection(options({ maxConcurrent: 4, maxQueued: 16 }))
    const before = idp.count
    // All 200 reach the limiter in this tick: 4 run, 16 wait, 180 are refused without a call.
    const results = await flood((token) => tokens.verify(token), 200)
    expect(results.filter((r) => r.reason === 'inactive')).toHaveLength(20)
    expect(results.filter((r) => r.reason !== 'inactive')).toEqual(
      Array.from({ length: 180 }, () => overloaded),
    )
    expect(idp.count - before).toBe(20)
    expect(seen.most).toBeLessThanOrEqual(4)
  })

  it('refuses queued requests with 503 once they waited the timeout, instead of waiting forever', async () => {
    idp.handle(() => {})
    const tokens = introspection(options({ timeout: 300, maxConcurrent: 1, maxQueued: 10 }))
    const before = idp.count
    const started = Date.now()
    const results = await flood((token) => tokens.authenticate(bearer(token)), 5)
    // The first call times out at 300 ms and frees its slot for the second; the other three have waited
    // 300 ms by then and are refused. The bug this guards made them wait as long as the endpoint hung.
    expect(Date.now() - started).toBeLessThan(3000)
    expect(results.filter((r) => r.reason === 'introspection_overloaded').length).toBeGreaterThanOrEqual(3)
    for (const result of results) {
      expect([unavailable('introspection_timeout'), overloaded]).toContainEqual(result)
    }
    expect(idp.count - before).toBeLessThanOrEqual(2)
  })

  it('takes one slot for one token however many requests carry it', async () => {
    slowEndpoint(50, () => activeAnswer())
    const tokens = introspection(options({ maxConcurrent: 1, maxQueued: 1 }))
    const before = idp.count
    const busy = tokens.verify(opaque())
    const token = opaque()
    const results = await Promise.all(Array.from({ length: 500 }, () => tokens.verify(token)))
    await busy
    expect(new Set(results).size).toBe(1)
    expect(idp.count - before).toBe(2)
  })

  it('serves a repeated inactive token from the cache within inactiveTtl, then asks again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    answer({ active: false })
    const tokens = introspection(options({ cache: { inactiveTtl: 5 } }))
    const token = opaque()
    const before = idp.count
    for (let i = 0; i < 50; i++) {
      expect(await rejection(tokens.authenticate(bearer(token)))).toEqual(invalidToken('inactive'))
    }
    expect(idp.count - before).toBe(1)
    // The token became active at the authorization server: accepted once the negative entry has expired.
    answer(activeAnswer())
    vi.setSystemTime(Date.now() + 6_000)
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toMatchObject({
      subject: 'alice',
    })
    expect(idp.count - before).toBe(2)
  })

  it('does not let a flood of inactive tokens evict cached active ones', async () => {
    answer(activeAnswer())
    const tokens = introspection(options({ cache: { max: 4 } }))
    const token = opaque()
    await tokens.authenticate(bearer(token))
    answer({ active: false })
    await flood((random) => tokens.authenticate(bearer(random)), 50)
    const before = idp.count
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toMatchObject({
      subject: 'alice',
    })
    expect(idp.count).toBe(before)
  })

  it('keeps at most cache.inactiveMax inactive answers, by the hash of the token', async () => {
    answer({ active: false })
    const tokens = introspection(options({ cache: { inactiveMax: 2 } }))
    const [first, second, third] = [opaque(), opaque(), opaque()]
    for (const token of [first, second, third]) await rejection(tokens.verify(token))
    let before = idp.count
    await rejection(tokens.verify(third))
    expect(idp.count).toBe(before)
    await rejection(tokens.verify(first))
    expect(idp.count).toBe(before + 1)
    before = idp.count
    await rejection(tokens.verify(first))
    expect(idp.count).toBe(before)
  })
})

describe('introspection: anyOf routes by token shape', () => {
  it('sends JWTs to jwtBearer and opaque tokens to introspection', async () => {
    const key = await generateSigningKey('ES256')
    const jwt = await signAccessToken(key, {
      iss: 'https://idp.example.com/',
      aud: audience,
      sub: 'jwt-user',
      client_id: 'web-app',
    })
    answer(activeAnswer({ sub: 'opaque-user' }))
    const tokens = anyOf(
      jwtBearer({ issuer: 'https://idp.example.com/', audience, algorithms: ['ES256'], jwks: toJwks(key) }),
      introspection(options()),
    )
    const before = idp.count
    await expect(Promise.resolve(tokens.authenticate(bearer(jwt)))).resolves.toMatchObject({
      subject: 'jwt-user',
      format: 'jwt',
    })
    expect(idp.count).toBe(before)
    await expect(Promise.resolve(tokens.authenticate(bearer(opaque())))).resolves.toMatchObject({
      subject: 'opaque-user',
      format: 'opaque',
    })
    expect(idp.count).toBe(before + 1)
  })

  it('accepts only opaque-shaped Bearer credentials (the scheme it reads)', () => {
    const tokens = introspection(options())
    expect(tokens.accepts?.(bearer(opaque()))).toBe(true)
    expect(tokens.accepts?.(bearer(opaque(), 'DPoP'))).toBe(false)
    expect(tokens.accepts?.(bearer('a.b.c'))).toBe(false)
    expect(tokens.accepts?.(headers({ authorization: ['Basic dXNlcjpwYXNz'] }))).toBe(false)
    expect(tokens.accepts?.(headers({}))).toBe(false)
    expect(introspection(options({ acceptJwtShaped: true })).accepts?.(bearer('a.b.c'))).toBe(true)
  })
})

describe('introspection: option mistakes', () => {
  const mistake = (overrides: Record<string, unknown>) => () =>
    introspection({ ...options(), ...overrides } as IntrospectionOptions)

  it.each([
    [{ issuer: undefined }, '"issuer" option'],
    [{ issuer: 'http://idp.example.com/' }, '"issuer" option must be an https URL'],
    [{ audience: [] }, '"audience" option must be a non-empty string or a non-empty array'],
    [{ clientId: '' }, '"clientId" option must be a non-empty string'],
    [{ clientAuthentication: { method: 'none' } }, '"clientAuthentication'],
    [
      { clientAuthentication: { method: 'client_secret_basic', secret: '' } },
      '"clientAuthentication.secret" option',
    ],
    [
      { clientAuthentication: { method: 'private_key_jwt', key: 'pem' } },
      '"clientAuthentication.key" option',
    ],
    [{ introspectionEndpoint: 'ftp://idp.example.com/introspect' }, '"introspectionEndpoint" option'],
    // A host name that merely starts with "127." is not loopback.
    [{ introspectionEndpoint: 'http://127.evil.example.com/introspect' }, '"introspectionEndpoint" option'],
    [{ timeout: 0 }, '"timeout" option must be a positive integer'],
    [{ cache: { maxTtl: -1 } }, '"cache.maxTtl" option must be a positive integer'],
    [
      { cache: { maxTtlSeconds: -1 } },
      '"cache.maxTtlSeconds" option must be a positive integer number of seconds',
    ],
    [{ cache: { inactiveTtl: 1.5 } }, '"cache.inactiveTtl" option must be a non-negative integer'],
    [
      { cache: { inactiveTtlSeconds: 1.5 } },
      '"cache.inactiveTtlSeconds" option must be a non-negative integer',
    ],
    [
      { cache: { maxTtl: 60, maxTtlSeconds: 60 } },
      '"cache.maxTtl" option is the deprecated name of "maxTtlSeconds": set only one',
    ],
    [{ cache: { ttl: 5 } }, '"cache.ttl" option is not recognized'],
    [{ cache: { inactiveMax: 0 } }, '"cache.inactiveMax" option must be a positive integer'],
    [{ maxConcurrent: 0 }, '"maxConcurrent" option must be a positive integer'],
    [{ maxConcurrent: 2.5 }, '"maxConcurrent" option must be a positive integer'],
    [{ maxQueued: -1 }, '"maxQueued" option must be a non-negative integer'],
    [{ maxQueued: Number.POSITIVE_INFINITY }, '"maxQueued" option must be a non-negative integer'],
    [{ clockTolerance: -1 }, '"clockTolerance" option must be a non-negative number'],
    [
      { clockToleranceSeconds: -1 },
      '"clockToleranceSeconds" option must be a non-negative number of seconds',
    ],
    [
      { clockTolerance: 1, clockToleranceSeconds: 1 },
      '"clockTolerance" option is the deprecated name of "clockToleranceSeconds": set only one',
    ],
    [{ acceptJwtShaped: 'yes' }, '"acceptJwtShaped" option must be a boolean'],
    [{ fetch: 'fetch' }, '"fetch" option must be a fetch function'],
    [{ jwks_uri: 'https://idp.example.com/jwks' }, '"jwks_uri" option is not recognized'],
    [{ signedResponses: 'yes' }, '"signedResponses" option must be a boolean'],
  ])('throws a TypeError naming the option for %o', (overrides, message) => {
    expect(mistake(overrides)).toThrow(TypeError)
    expect(mistake(overrides)).toThrow(`introspection: ${message}`)
  })
})

// Issue 13: the answer's members are read by core's claimsToAuth, every type before any value.
describe('introspection: the shape of an active answer', () => {
  it('accepts an answer with a member nested 200 000 deep (no stack overflow)', async () => {
    // Written by hand: JSON.stringify would overflow the stack on it.
    const nested = `${'['.repeat(200_000)}${']'.repeat(200_000)}`
    const body = JSON.stringify(activeAnswer({ nested: 0 })).replace('"nested":0', `"nested":${nested}`)
    idp.handle((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body))
    const auth = await introspection(options()).authenticate(bearer(opaque()))
    expect(auth).toMatchObject({ subject: 'alice', format: 'opaque' })
  })

  it('answers 503 to a numeric "sub" or "client_id" even when the token is also expired', async () => {
    for (const member of [{ sub: 42 }, { client_id: 42 }]) {
      answer(activeAnswer({ ...member, exp: now() - 600 }))
      const result = await rejection(introspection(options()).authenticate(bearer(opaque())))
      expect(result).toEqual(unavailable('introspection_malformed'))
    }
  })
})
