// zeroTrustClient over plain HTTP on 127.0.0.1 (mTLS, oidc-provider and Redis are in test/): retries,
// Retry-After, idempotency keys, deadlines, aborts, bounded bodies, problem and challenge parsing, the
// invalid_token retry, and DPoP proofs checked by the real @zerotrust/dpop layer with server nonces.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dpop } from '@zerotrust/dpop'
import { authenticate } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { startHttpServer, type TestHttpServer, testIssuer } from '@zerotrust/testkit'
import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type AccessToken,
  type ClientEvent,
  isOutboundError,
  type TokenSource,
  zeroTrustClient,
} from './index.js'
import { accessToken } from './lib/token-cache.js'

type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void

const servers: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly at: number
}

/** A loopback server whose answer to the n-th request (from 1) is `handler`'s; it records every request. */
async function serve(handler: Handler): Promise<{ origin: string; seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, at: Date.now() })
    handler(req, res, seen.length)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  })
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

/** A token source of fixed tokens, counting what it is asked. */
function fixedTokens(values: string[], type: 'Bearer' | 'DPoP' = 'Bearer') {
  let index = 0
  const invalidated: string[] = []
  let current: AccessToken | undefined
  const source: TokenSource & { invalidated: string[]; asked: number } = {
    invalidated,
    asked: 0,
    async token() {
      source.asked++
      current ??= accessToken(values[Math.min(index, values.length - 1)] as string, type, Date.now() + 60_000)
      return current
    },
    invalidate(token) {
      invalidated.push(token.value)
      if (current === token) {
        current = undefined
        index++
      }
    },
  }
  return source
}

const noJitter = { attempts: 3, baseDelay: 1, maxDelay: 5 }

describe('zeroTrustClient: answers and events', () => {
  it('resolves with the answer and reports one event without the token (issue 16)', async () => {
    const { origin, seen } = await serve((_req, res) => json(res, 200, { ok: true }, { 'x-trace': 'a' }))
    const events: ClientEvent[] = []
    const tokens = fixedTokens(['secret-token-value'])
    const client = zeroTrustClient({ baseUrl: `${origin}/api/`, tokens, onEvent: (e) => events.push(e) })
    const res = await client.fetch('/orders?limit=2')
    expect(res.status).toBe(200)
    expect(res.headers.get('x-trace')).toBe('a')
    expect(await res.json()).toEqual({ ok: true })
    expect(seen[0]?.url).toBe('/api/orders?limit=2')
    expect(seen[0]?.headers.authorization).toBe('Bearer secret-token-value')
    expect(events).toEqual([
      expect.objectContaining({
        layer: 'client',
        outcome: 'allow',
        code: 'ok',
        status: 200,
        method: 'GET',
        origin,
        path: '/api/orders',
        attempt: 1,
      }),
    ])
    expect(JSON.stringify(events)).not.toContain('secret-token-value')
    expect(JSON.stringify(events)).not.toContain('limit')
    await client.close()
  })

  it('rejects a 4xx with a typed error carrying the problem and the challenge, never the token', async () => {
    const { origin } = await serve((_req, res) =>
      json(
        res,
        403,
        {
          type: 'about:blank',
          title: 'Insufficient scope',
          status: 403,
          code: 'insufficient_scope',
          nested: { no: 1 },
        },
        {
          'content-type': 'application/problem+json',
          'www-authenticate': 'Bearer realm="billing", error="insufficient_scope", scope="charges:write"',
        },
      ),
    )
    const client = zeroTrustClient({ baseUrl: origin, tokens: fixedTokens(['tok-403-secret']) })
    const error = await client.fetch('/charges').catch((e: unknown) => e)
    expect(isOutboundError(error)).toBe(true)
    if (!isOutboundError(error)) return
    expect({
      code: error.code,
      status: error.status,
      reason: error.reason,
      attempts: error.attempts,
    }).toEqual({
      code: 'internal_error',
      status: 500,
      reason: 'upstream_refused',
      attempts: 1,
    })
    expect(error.upstream?.status).toBe(403)
    expect(error.upstream?.problem).toEqual({
      type: 'about:blank',
      title: 'Insufficient scope',
      status: 403,
      extensions: { code: 'insufficient_scope' },
    })
    expect(error.upstream?.challenges).toEqual([
      { scheme: 'bearer', params: { realm: 'billing', error: 'insufficient_scope', scope: 'charges:write' } },
    ])
    expect(`${error.message} ${error.stack} ${JSON.stringify(error)}`).not.toContain('tok-403-secret')
    await client.close()
  })

  it('refuses an answer body over maxResponseBytes, declared or streamed', async () => {
    const { origin } = await serve((req, res) => {
      if (req.url === '/declared') json(res, 200, 'x'.repeat(2000))
      else {
        res.writeHead(200)
        res.write('y'.repeat(1500))
        res.end('y'.repeat(1500))
      }
    })
    const client = zeroTrustClient({ baseUrl: origin, maxResponseBytes: 1024, retry: false })
    for (const path of ['/declared', '/streamed']) {
      const error = await client.fetch(path).catch((e: unknown) => e)
      expect(isOutboundError(error) && [error.code, error.reason]).toEqual([
        'dependency_unavailable',
        'response_too_large',
      ])
    }
    await client.close()
  })
})

describe('zeroTrustClient: retries', () => {
  it('retries a GET after 503 and honours Retry-After in seconds (issue 16)', async () => {
    const { origin, seen } = await serve((_req, res, n) =>
      n === 1 ? json(res, 503, {}, { 'retry-after': '1' }) : json(res, 200, { n }),
    )
    const events: ClientEvent[] = []
    const client = zeroTrustClient({ baseUrl: origin, retry: noJitter, onEvent: (e) => events.push(e) })
    const res = await client.fetch('/slow')
    expect(await res.json()).toEqual({ n: 2 })
    expect(events.map((e) => [e.attempt, e.outcome, e.status, e.retryInMs])).toEqual([
      [1, 'error', 503, 1000],
      [2, 'allow', 200, undefined],
    ])
    // A lower bound only: the second attempt cannot come before the wait the server asked for.
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(950)
    await client.close()
  })

  it('honours Retry-After as an HTTP-date', async () => {
    const { origin } = await serve((_req, res, n) =>
      n === 1
        ? json(res, 429, {}, { 'retry-after': new Date(Date.now() + 1500).toUTCString() })
        : json(res, 200, {}),
    )
    const events: ClientEvent[] = []
    const client = zeroTrustClient({ baseUrl: origin, retry: noJitter, onEvent: (e) => events.push(e) })
    await client.fetch('/')
    const wait = events[0]?.retryInMs ?? -1
    expect(wait).toBeGreaterThan(0)
    expect(wait).toBeLessThanOrEqual(1500)
    await client.close()
  })

  it('ends the call when Retry-After asks for more than maxRetryAfter, passing it on', async () => {
    const { origin, seen } = await serve((_req, res) => json(res, 503, {}, { 'retry-after': '120' }))
    const client = zeroTrustClient({ baseUrl: origin, retry: { ...noJitter, maxRetryAfter: 5000 } })
    const error = await client.fetch('/').catch((e: unknown) => e)
    expect(isOutboundError(error) && [error.code, error.reason, error.retryAfter, error.attempts]).toEqual([
      'dependency_unavailable',
      'upstream_unavailable',
      120,
      1,
    ])
    expect(seen).toHaveLength(1)
    await client.close()
  })

  it('never retries a 422, and gives up after the attempts allowed', async () => {
    const unprocessable = await serve((_req, res) => json(res, 422, {}))
    const down = await serve((_req, res) => json(res, 502, {}))
    const client422 = zeroTrustClient({ baseUrl: unprocessable.origin, retry: noJitter })
    const client502 = zeroTrustClient({ baseUrl: down.origin, retry: noJitter })
    const refused = await client422.fetch('/', { method: 'POST', body: '{}' }).catch((e: unknown) => e)
    const failed = await client502.fetch('/').catch((e: unknown) => e)
    expect(isOutboundError(refused) && [refused.reason, refused.attempts]).toEqual(['upstream_refused', 1])
    expect(isOutboundError(failed) && [failed.reason, failed.attempts]).toEqual(['upstream_unavailable', 3])
    expect(unprocessable.seen).toHaveLength(1)
    expect(down.seen).toHaveLength(3)
    await Promise.all([client422.close(), client502.close()])
  })

  it('sends one Idempotency-Key for all attempts of a write, and retries only keyed writes', async () => {
    const { origin, seen } = await serve((_req, res, n) =>
      n % 2 === 1 ? json(res, 503, {}) : json(res, 201, {}),
    )
    const client = zeroTrustClient({ baseUrl: origin, retry: noJitter })
    await client.fetch('/charges', { method: 'POST', body: '{"a":1}', idempotencyKey: 'order-"7"' })
    expect(seen.map((s) => s.headers['idempotency-key'])).toEqual(['"order-\\"7\\""', '"order-\\"7\\""'])
    await client.fetch('/charges', { method: 'PATCH', body: '{}' })
    const generated = seen.slice(2).map((s) => s.headers['idempotency-key'])
    expect(generated[0]).toMatch(/^"[0-9a-f-]{36}"$/)
    expect(generated[1]).toBe(generated[0])
    const unkeyed = await client
      .fetch('/charges', { method: 'POST', body: '{}', idempotencyKey: false })
      .catch((e: unknown) => e)
    expect(isOutboundError(unkeyed) && [unkeyed.reason, unkeyed.attempts]).toEqual([
      'upstream_unavailable',
      1,
    ])
    expect(seen.at(-1)?.headers['idempotency-key']).toBeUndefined()
    await client.close()
  })

  it('waits out a keyed write still in flight (409 with Retry-After) and gets its answer', async () => {
    const { origin, seen } = await serve((_req, res, n) =>
      n === 1
        ? json(
            res,
            409,
            { code: 'idempotency_conflict' },
            { 'content-type': 'application/problem+json', 'retry-after': '1' },
          )
        : json(res, 201, { id: 'ch_1' }, { 'idempotent-replayed': 'true' }),
    )
    const client = zeroTrustClient({ baseUrl: origin, retry: noJitter })
    const res = await client.fetch('/charges', { method: 'POST', body: '{}', idempotencyKey: 'k1' })
    expect(res.status).toBe(201)
    expect(seen).toHaveLength(2)
    // A 409 of a write without a key is a conflict of the application: not waited out.
    const { origin: other, seen: otherSeen } = await serve((_req, res) =>
      json(res, 409, {}, { 'retry-after': '1' }),
    )
    const plain = zeroTrustClient({ baseUrl: other, retry: noJitter, idempotencyKeys: false })
    const error = await plain.fetch('/charges', { method: 'POST', body: '{}' }).catch((e: unknown) => e)
    expect(isOutboundError(error) && error.upstream?.status).toBe(409)
    expect(otherSeen).toHaveLength(1)
    await Promise.all([client.close(), plain.close()])
  })

  it('retries a GET whose connection broke, but not an unkeyed POST', async () => {
    const { origin, seen } = await serve((req, res, n) => {
      if (n <= 2) req.socket.destroy()
      else json(res, 200, {})
    })
    const client = zeroTrustClient({ baseUrl: origin, retry: noJitter, idempotencyKeys: false })
    const broken = await client.fetch('/', { method: 'POST', body: 'x' }).catch((e: unknown) => e)
    expect(isOutboundError(broken) && [broken.code, broken.reason, broken.attempts]).toEqual([
      'dependency_unavailable',
      'connection_failed',
      1,
    ])
    expect((await client.fetch('/')).status).toBe(200)
    expect(seen).toHaveLength(3)
    await client.close()
  })

  it('retries a refused connection whatever the method: nothing was sent', async () => {
    const { origin } = await serve((_req, res) => json(res, 200, {}))
    await Promise.all(servers.splice(0).map((server) => server.close()))
    const client = zeroTrustClient({ baseUrl: origin, retry: noJitter, idempotencyKeys: false })
    const error = await client.fetch('/', { method: 'POST', body: 'x' }).catch((e: unknown) => e)
    expect(isOutboundError(error) && [error.reason, error.attempts]).toEqual(['connection_failed', 3])
    await client.close()
  })
})

describe('zeroTrustClient: deadlines and cancellation', () => {
  const hang: Handler = () => {}

  it('times an attempt out, retries it, and fails with timeout', async () => {
    const { origin, seen } = await serve(hang)
    const client = zeroTrustClient({
      baseUrl: origin,
      timeout: 100,
      retry: { attempts: 2, baseDelay: 1, maxDelay: 1 },
    })
    const error = await client.fetch('/').catch((e: unknown) => e)
    expect(isOutboundError(error) && [error.code, error.reason, error.attempts]).toEqual([
      'dependency_unavailable',
      'timeout',
      2,
    ])
    expect(seen).toHaveLength(2)
    await client.close()
  })

  it('ends the call at its deadline, a Date or milliseconds', async () => {
    const { origin } = await serve(hang)
    const client = zeroTrustClient({ baseUrl: origin, timeout: 60_000, retry: noJitter })
    for (const deadline of [150, new Date(Date.now() + 150)]) {
      const error = await client.fetch('/', { deadline }).catch((e: unknown) => e)
      expect(isOutboundError(error) && [error.code, error.reason]).toEqual([
        'dependency_unavailable',
        'deadline',
      ])
    }
    await client.close()
  })

  it("cancels the call on the caller's abort, during an attempt and during a wait", async () => {
    const { origin } = await serve((_req, res, n) =>
      n === 1 ? json(res, 503, {}, { 'retry-after': '20' }) : undefined,
    )
    const client = zeroTrustClient({ baseUrl: origin, retry: noJitter })
    const waiting = new AbortController()
    const during = client.fetch('/', { signal: waiting.signal }).catch((e: unknown) => e)
    setTimeout(() => waiting.abort(), 100)
    const inFlight = new AbortController()
    const hanging = client.fetch('/', { signal: inFlight.signal, timeout: 60_000 }).catch((e: unknown) => e)
    setTimeout(() => inFlight.abort(), 100)
    for (const error of [await during, await hanging]) {
      expect(isOutboundError(error) && [error.code, error.reason]).toEqual(['internal_error', 'aborted'])
    }
    const already = await client.fetch('/', { signal: AbortSignal.abort() }).catch((e: unknown) => e)
    expect(isOutboundError(already) && [error(already), already.attempts]).toEqual(['aborted', 1])
    await client.close()
  })
})

function error(value: unknown): string | undefined {
  return isOutboundError(value) ? value.reason : undefined
}

describe('zeroTrustClient: tokens and DPoP against real zerotrust layers', () => {
  const audience = 'api://orders'

  async function protectedService(layer: Parameters<typeof authenticate>[0], publicOrigin: () => string) {
    const app = express()
    let auth: express.RequestHandler | undefined
    app.use((req, res, next) => {
      auth ??= authenticate(layer, { publicOrigin: publicOrigin() })
      auth(req, res, next)
    })
    app.get('/orders', (req, res) => {
      res.json({ subject: req.auth?.subject, scheme: req.auth?.scheme })
    })
    const server: TestHttpServer = await startHttpServer(app)
    servers.push(server)
    return server
  }

  it('drops a token the service calls invalid_token and retries once with a fresh one (issue 16)', async () => {
    const issuer = await testIssuer({ issuer: 'https://issuer.test/', audience })
    const expired = await issuer.sign({ exp: Math.floor(Date.now() / 1000) - 60 })
    const fresh = await issuer.sign()
    let origin = ''
    const service = await protectedService(
      jwtBearer({ issuer: 'https://issuer.test/', audience, algorithms: ['ES256'], jwks: issuer.jwks }),
      () => origin,
    )
    origin = service.url
    const tokens = fixedTokens([expired, fresh])
    const events: ClientEvent[] = []
    const client = zeroTrustClient({
      baseUrl: origin,
      tokens,
      retry: noJitter,
      onEvent: (e) => events.push(e),
    })
    const res = await client.fetch('/orders')
    expect(await res.json()).toEqual({ subject: 'alice', scheme: 'Bearer' })
    expect(tokens.invalidated).toEqual([expired])
    expect(events.map((e) => [e.attempt, e.status, e.reason])).toEqual([
      [1, 401, 'upstream_refused'],
      [2, 200, undefined],
    ])
    // Twice refused: one retry only.
    const stale = fixedTokens([expired])
    const again = zeroTrustClient({ baseUrl: origin, tokens: stale, retry: noJitter })
    const error401 = await again.fetch('/orders').catch((e: unknown) => e)
    expect(isOutboundError(error401) && [error401.upstream?.status, error401.attempts]).toEqual([401, 2])
    expect(JSON.stringify(events)).not.toContain(expired.slice(-20))
    await Promise.all([client.close(), again.close()])
  })

  it('signs a DPoP proof per request and retries once with the service nonce (issue 16)', async () => {
    const issuer = await testIssuer({ issuer: 'https://issuer.test/', audience })
    const keyPair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey)
    const { createHash } = await import('node:crypto')
    const jkt = createHash('sha256')
      .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
      .digest('base64url')
    const token = await issuer.sign({ cnf: { jkt } })
    let origin = ''
    const service = await protectedService(
      dpop(
        jwtBearer({ issuer: 'https://issuer.test/', audience, algorithms: ['ES256'], jwks: issuer.jwks }),
        {
          required: true,
          nonce: { secret: 'a-nonce-secret-of-at-least-32-bytes!!' },
        },
      ),
      () => origin,
    )
    origin = service.url
    const events: ClientEvent[] = []
    const client = zeroTrustClient({
      baseUrl: origin,
      tokens: fixedTokens([token], 'DPoP'),
      dpop: { key: keyPair },
      onEvent: (e) => events.push(e),
    })
    const first = await client.fetch('/orders')
    expect(await first.json()).toEqual({ subject: 'alice', scheme: 'DPoP' })
    expect(events.map((e) => [e.attempt, e.status])).toEqual([
      [1, 401],
      [2, 200],
    ])
    // The nonce is remembered: the next calls carry it from the start, each with a proof of its own.
    events.length = 0
    await Promise.all([client.fetch('/orders'), client.fetch('/orders')])
    expect(events.map((e) => [e.attempt, e.status])).toEqual([
      [1, 200],
      [1, 200],
    ])
    expect(JSON.stringify(events)).not.toMatch(/eyJ/)
    await client.close()
  })
})

describe('zeroTrustClient: trace context (issue 18)', () => {
  it('calls the propagator once per attempt, so that a retry carries the context of its moment', async () => {
    const { origin, seen } = await serve((_req, res, n) =>
      n === 1 ? json(res, 503, {}) : json(res, 200, { ok: true }),
    )
    let injected = 0
    const events: ClientEvent[] = []
    const client = zeroTrustClient({
      baseUrl: origin,
      tokens: fixedTokens(['the-token']),
      retry: noJitter,
      onEvent: (e) => events.push(e),
      propagate: {
        inject(set) {
          injected++
          set('traceparent', `00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b${injected}-01`)
          set('Authorization', 'Bearer from-the-propagator')
        },
      },
    })
    await client.fetch('/orders')
    expect(seen.map((s) => s.headers.traceparent)).toEqual([
      '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b1-01',
      '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b2-01',
    ])
    // Never the propagator's credentials: the client's own token, at each attempt.
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer the-token', 'Bearer the-token'])
    expect(events.map((e) => [e.attempt, e.status, e.diagnostics])).toEqual([
      [1, 503, ['propagator_header_refused:authorization']],
      [2, 200, ['propagator_header_refused:authorization']],
    ])
    await client.close()
  })

  it('sends the call without trace headers when the propagator throws, and says so in the event', async () => {
    const { origin, seen } = await serve((_req, res) => json(res, 200, {}))
    const events: ClientEvent[] = []
    const client = zeroTrustClient({
      baseUrl: origin,
      onEvent: (e) => events.push(e),
      propagate: {
        inject(set) {
          set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
          throw new Error('context lost')
        },
      },
    })
    const res = await client.fetch('/orders', { method: 'POST', body: '{}' })
    expect(res.status).toBe(200)
    expect(seen[0]?.headers.traceparent).toBeUndefined()
    expect(seen[0]?.headers['idempotency-key']).toMatch(/^"[0-9a-f-]{36}"$/)
    expect(events).toEqual([
      expect.objectContaining({ outcome: 'allow', status: 200, diagnostics: ['propagator_failed'] }),
    ])
    await client.close()
  })

  it('names the option when it is not a propagator', () => {
    expect(() => zeroTrustClient({ baseUrl: 'https://billing.example.com', propagate: {} as never })).toThrow(
      'zeroTrustClient: "propagate" option must be a propagator',
    )
  })
})
