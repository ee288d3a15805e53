import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { renderError } from '@zerotrust/core'
import { generateSigningKey, type JwksServer, type SigningKey, startJwksServer } from '@zerotrust/testkit'
import type { JSONWebKeySet } from 'jose'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { bearer, claims, sign, type TestKey, testKey } from '../test/fixtures.js'
import { type JwtBearerOptions, jwtBearer } from './index.js'

let k1: TestKey
let k2: TestKey
const servers: JwksServer[] = []

beforeAll(async () => {
  ;[k1, k2] = await Promise.all([testKey('ES256', 'k1'), testKey('ES256', 'k2')])
})

afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

/**
 * Fakes the clocks the key set reads (`performance.now()`, `setTimeout`) and nothing else, so that
 * loopback HTTP keeps running on real time while cooldowns and backoffs are stepped through.
 */
const fakeClock = () => vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] })

/** Settles a promise into its value or its error, without an unhandled rejection meanwhile. */
const settle = <T>(answer: T | Promise<T>) =>
  Promise.resolve(answer).then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  )

/** Real milliseconds, whatever the fake clock does. */
const sleepReal = (ms: number) => new Promise<void>((resolve) => setImmediate(() => realTimeout(resolve, ms)))
const realTimeout = globalThis.setTimeout

/** Waits on real time (a few seconds at most) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !condition(); i++) await sleepReal(10)
  expect(condition()).toBe(true)
}

async function idp(keys: TestKey[], options?: Parameters<typeof startJwksServer>[1]) {
  const server = await startJwksServer({ keys: keys.map((k) => k.publicJwk) }, options)
  servers.push(server)
  return server
}

const tokenFor = (server: { issuer: string }, key: TestKey) => sign(key, claims({ iss: server.issuer }))

// The fetch timeout runs on the (sometimes fake) clock: long enough that stepping a fake clock through
// cooldowns never times out a loopback fetch still running on real time.
const verifier = (server: { issuer: string }, options: Partial<JwtBearerOptions> = {}) =>
  jwtBearer({
    issuer: server.issuer,
    audience: 'api://orders',
    algorithms: ['ES256'],
    ...options,
    http: { timeout: 120_000, ...options.http },
  } as JwtBearerOptions)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A loopback server whose every answer is a 200 streaming JSON-looking bytes, chunked, without
 * content-length, up to 400 MiB, only as fast as the client reads, until the client goes away.
 */
async function floodServer() {
  let written = 0
  let disconnected = false
  const chunk = Buffer.alloc(64 * 1024, 0x20)
  const server = createServer((_req, res) => {
    res.on('close', () => {
      disconnected = true
    })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"keys":[')
    const pump = () => {
      while (!res.destroyed && written < 400 * 1024 * 1024) {
        written += chunk.byteLength
        if (!res.write(chunk)) return void res.once('drain', pump)
      }
      if (!res.destroyed) res.end(']}')
    }
    pump()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  floods.push(server)
  return { origin, written: () => written, disconnected: () => disconnected }
}

const floods: Server[] = []
afterEach(async () => {
  for (const server of floods.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

describe('jwtBearer: metadata and JWKS bodies are read at most to their limit (issue 12)', () => {
  it('stops reading an endless chunked JWKS after about 512 KiB and drops the connection', async () => {
    const flood = await floodServer()
    const tokens = jwtBearer({
      issuer: flood.origin,
      jwksUri: `${flood.origin}/jwks.json`,
      audience: 'api://orders',
      algorithms: ['ES256'],
    })
    const before = process.memoryUsage().rss
    const error = await Promise.resolve(
      tokens.authenticate(bearer(await sign(k1, claims({ iss: flood.origin })))),
    ).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'dependency_unavailable', status: 503, reason: 'jwks_too_large' })
    await until(flood.disconnected)
    // The limit plus what the sockets buffered: a few MiB, never the 400 MiB on offer.
    expect(flood.written()).toBeLessThan(32 * 1024 * 1024)
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024)
  })

  it('stops reading an endless chunked discovery document', async () => {
    const flood = await floodServer()
    const tokens = jwtBearer({ issuer: flood.origin, audience: 'api://orders', algorithms: ['ES256'] })
    const error = await Promise.resolve(
      tokens.authenticate(bearer(await sign(k1, claims({ iss: flood.origin })))),
    ).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'discovery_too_large',
    })
    await until(flood.disconnected)
    expect(flood.written()).toBeLessThan(64 * 1024 * 1024)
  })

  it('counts the bytes of a JWKS whose content-length lies', async () => {
    let pulled = 0
    const lying: typeof fetch = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            pulled += 64 * 1024
            controller.enqueue(new Uint8Array(64 * 1024).fill(0x20))
          },
        }),
        { status: 200, headers: { 'content-length': '20', 'content-type': 'application/json' } },
      )
    const tokens = jwtBearer({
      issuer: 'https://idp.example.com/',
      jwksUri: 'https://idp.example.com/jwks.json',
      audience: 'api://orders',
      algorithms: ['ES256'],
      http: { fetch: lying },
    })
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await sign(k1, claims())))),
    ).rejects.toMatchObject({
      code: 'dependency_unavailable',
      reason: 'jwks_too_large',
    })
    expect(pulled).toBeLessThan(1024 * 1024)
  })
})

describe('jwtBearer: keys from the issuer', () => {
  it('discovers the JWKS through OpenID Connect metadata', async () => {
    const server = await idp([k1])
    const auth = await verifier(server).authenticate(bearer(await tokenFor(server, k1)))
    expect(auth.issuer).toBe(server.issuer)
    expect(server.requests).toMatchObject({ discovery: 1, jwks: 1, total: 2 })
  })

  it('falls back to RFC 8414 metadata, with the issuer path after the well-known segment', async () => {
    const server = await idp([k1], { metadata: 'oauth', issuerPath: '/tenant-a' })
    await verifier(server).authenticate(bearer(await tokenFor(server, k1)))
    expect(server.requests.byPath.get('/.well-known/oauth-authorization-server/tenant-a')).toBe(1)
    expect(server.requests.jwks).toBe(1)
  })

  it('refuses metadata that names another issuer, as an outage rather than a bad token', async () => {
    const server = await idp([k1])
    server.setDiscovery({ issuer: 'https://evil.example.com/' })
    const error = await Promise.resolve(
      verifier(server).authenticate(bearer(await tokenFor(server, k1))),
    ).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'discovery_issuer_mismatch',
    })
    expect(server.requests.jwks).toBe(0)
  })

  it('refuses a jwks_uri over plain http off loopback', async () => {
    const server = await idp([k1])
    server.setDiscovery({ jwks_uri: 'http://keys.example.com/jwks.json' })
    await expect(
      Promise.resolve(verifier(server).authenticate(bearer(await tokenFor(server, k1)))),
    ).rejects.toMatchObject({
      code: 'dependency_unavailable',
      reason: 'discovery_invalid_jwks_uri',
    })
  })

  it('uses an explicit jwksUri without discovery', async () => {
    const server = await idp([k1])
    await verifier(server, { jwksUri: server.jwksUri }).authenticate(bearer(await tokenFor(server, k1)))
    expect(server.requests).toMatchObject({ discovery: 0, jwks: 1 })
  })

  it('picks up a rotated key on its first unknown kid', async () => {
    const server = await idp([k1])
    const tokens = verifier(server)
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    server.setJwks({ keys: [k1.publicJwk, k2.publicJwk] })
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k2)))),
    ).resolves.toBeDefined()
    expect(server.requests.jwks).toBe(2)
  })

  it('stops accepting a key the issuer removed, once its keys are refetched', async () => {
    fakeClock()
    const server = await idp([k1])
    const tokens = verifier(server, { cache: false })
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    server.setJwks({ keys: [k2.publicJwk] })
    // The new kid triggers the refetch; the remembered k1 key must not outlive it.
    await tokens.authenticate(bearer(await tokenFor(server, k2)))
    // k1 is now unknown; a fetch that starts after its token arrived (at the end of the cooldown) decides.
    const k1Again = settle(tokens.authenticate(bearer(await tokenFor(server, k1))))
    await vi.advanceTimersByTimeAsync(5000)
    expect((await k1Again).error).toMatchObject({ code: 'invalid_token', reason: 'unknown_key' })
    expect(server.requests.jwks).toBe(3)
  })

  it('coalesces a storm of unknown-kid requests into one fetch', async () => {
    const server = await idp([k1])
    const tokens = verifier(server)
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    server.setJwks({ keys: [k1.publicJwk, k2.publicJwk] })
    server.delay(50)
    const storm = await Promise.all(
      Array.from({ length: 50 }, async () => tokens.authenticate(bearer(await tokenFor(server, k2)))),
    )
    expect(storm).toHaveLength(50)
    expect(server.requests.jwks).toBe(2)
  })

  it('refetches for unknown kids at most once per cooldown, and refuses each after a later fetch (issue 12)', async () => {
    fakeClock()
    const server = await idp([k1])
    const tokens = verifier(server)
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    const strangers = await Promise.all(Array.from({ length: 4 }, (_, i) => testKey('ES256', `random-${i}`)))
    const forged = await Promise.all(strangers.map((stranger) => tokenFor(server, stranger)))
    // Three cooldowns of random kids, arriving at its start and inside it.
    const answers: Promise<{ error: unknown }>[] = []
    for (let round = 0; round < 3; round++) {
      answers.push(...forged.map((token) => settle(tokens.authenticate(bearer(token)))))
      await vi.advanceTimersByTimeAsync(1000)
      answers.push(...forged.map((token) => settle(tokens.authenticate(bearer(token)))))
      await vi.advanceTimersByTimeAsync(4000)
    }
    for (const answer of await Promise.all(answers)) {
      expect(answer.error).toMatchObject({ code: 'invalid_token', reason: 'unknown_key' })
    }
    // One fetch at startup, then at most one per cooldown (at 0, 5, 10 and 15 s): never one per token.
    expect(server.requests.jwks).toBeLessThanOrEqual(1 + 4)
  })

  it('accepts a key published just after a random kid spent the refetch, within the cooldown (issue 12)', async () => {
    fakeClock()
    const server = await idp([k1])
    const tokens = verifier(server)
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    const stranger = await testKey('ES256', 'random')
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, stranger)))),
    ).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'unknown_key',
    })
    // The issuer rotates right after: the new kid waits for the next permitted refetch, never a 401.
    server.setJwks({ keys: [k1.publicJwk, k2.publicJwk] })
    const rotated = settle(tokens.authenticate(bearer(await tokenFor(server, k2))))
    await vi.advanceTimersByTimeAsync(4900)
    expect(server.requests.jwks).toBe(2)
    await vi.advanceTimersByTimeAsync(100)
    expect((await rotated).value).toMatchObject({ issuer: server.issuer })
    expect(server.requests.jwks).toBe(3)
  })

  it('answers 503 with Retry-After, not 401, when the next refetch is further than maxKeyWait (issue 12)', async () => {
    fakeClock()
    const server = await idp([k1])
    const tokens = verifier(server, { http: { cooldown: 30_000, maxKeyWait: 1000 } })
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    const stranger = await testKey('ES256', 'random')
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, stranger)))),
    ).rejects.toMatchObject({
      reason: 'unknown_key',
    })
    server.setJwks({ keys: [k1.publicJwk, k2.publicJwk] })
    const error = await Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k2)))).catch(
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'dependency_unavailable', status: 503, reason: 'jwks_cooldown' })
    const { status, headers } = renderError(error)
    expect({ status, retryAfter: Number(headers['retry-after']) }).toEqual({ status: 503, retryAfter: 30 })
    expect(headers['www-authenticate']).toBeUndefined()
    // Once the cooldown is over, the new key verifies.
    await vi.advanceTimersByTimeAsync(30_000)
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k2)))),
    ).resolves.toBeDefined()
  })

  it.each([
    ['an empty set', { keys: [] }],
    ['only keys for another algorithm', { keys: [{ kty: 'RSA', n: 'x'.repeat(400), e: 'AQAB', kid: 'r' }] }],
    ['only encryption keys', { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', use: 'enc', kid: 'e' }] }],
    [
      'only keys pinned to another alg',
      { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', alg: 'ES384', kid: 'a' }] },
    ],
  ])('keeps the last good keys when a refetch brings %s (issue 12)', async (_name, jwks) => {
    const server = await idp([k1])
    const tokens = verifier(server, { cache: false })
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    server.setJwks(jwks as JSONWebKeySet)
    // An unknown kid refetches at once: the set it brings is refused as a failed fetch (503, not 401).
    const stranger = await testKey('ES256', 'random')
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, stranger)))),
    ).rejects.toMatchObject({
      code: 'dependency_unavailable',
      reason: 'jwks_no_usable_keys',
    })
    expect(server.requests.jwks).toBe(2)
    // Valid tokens keep verifying with the keys fetched before.
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k1)))),
    ).resolves.toBeDefined()
  })

  it('answers 503 when the first set it fetches has no usable key', async () => {
    const server = await idp([])
    await expect(
      Promise.resolve(verifier(server).authenticate(bearer(await tokenFor(server, k1)))),
    ).rejects.toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'jwks_no_usable_keys',
    })
  })

  it('starts the failure backoff when a hanging fetch ends, not when it started (issue 12)', async () => {
    fakeClock()
    const server = await idp([k1])
    server.delay(60_000)
    const tokens = verifier(server, { jwksUri: server.jwksUri, http: { timeout: 3000 } })
    const token = await tokenFor(server, k1)
    const first = settle(tokens.authenticate(bearer(token)))
    await until(() => server.requests.jwks === 1)
    await vi.advanceTimersByTimeAsync(3000)
    expect((await first).error).toMatchObject({ code: 'dependency_unavailable', reason: 'jwks_timeout' })
    // The issuer answers again, but the backoff runs for a second from the timeout: no new fetch yet,
    // and the answer still names the timeout (issue 20).
    server.delay(0)
    const error = await Promise.resolve(tokens.authenticate(bearer(token))).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'dependency_unavailable', reason: 'jwks_timeout' })
    expect(Number(renderError(error).headers['retry-after'])).toBe(1)
    expect(server.requests.jwks).toBe(1)
    await vi.advanceTimersByTimeAsync(1000)
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
    expect(server.requests.jwks).toBe(2)
  })

  it('stops verifying a removed key once http.maxAge has passed and the background refresh ended (issue 12)', async () => {
    fakeClock()
    const server = await idp([k1, k2])
    const tokens = verifier(server, { cache: false, http: { maxAge: 60_000 } })
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    server.setJwks({ keys: [k2.publicJwk] })
    // Within maxAge the cached set still holds k1.
    await vi.advanceTimersByTimeAsync(59_000)
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k1)))),
    ).resolves.toBeDefined()
    expect(server.requests.jwks).toBe(1)
    // Past maxAge the next request starts a background refresh (and is served from the old set).
    await vi.advanceTimersByTimeAsync(1001)
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k2)))),
    ).resolves.toBeDefined()
    // Until the refresh ends the old set serves; then k1 is unknown, and the fetch its token starts says so.
    const k1Token = await tokenFor(server, k1)
    let outcome = await settle(tokens.authenticate(bearer(k1Token)))
    for (let i = 0; i < 300 && outcome.error === undefined; i++) {
      await sleepReal(10)
      outcome = await settle(tokens.authenticate(bearer(k1Token)))
    }
    expect(outcome.error).toMatchObject({ code: 'invalid_token', reason: 'unknown_key' })
    expect(server.requests.jwks).toBe(3)
  })

  it.each(['status', 'reset'] as const)(
    'keeps verifying with cached keys while the issuer is down (%s)',
    async (mode) => {
      const server = await idp([k1])
      fakeClock()
      const tokens = verifier(server, { cache: false, http: { maxAge: 1000 } })
      await tokens.authenticate(bearer(await tokenFor(server, k1)))
      server.down(true, mode)
      for (let i = 0; i < 3; i++) {
        await vi.advanceTimersByTimeAsync(1500)
        await expect(
          Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k1)))),
        ).resolves.toBeDefined()
      }
      // Stale keys started background refreshes, which failed, and no request got a 401.
      await until(() => server.requests.jwks >= 2)
    },
  )

  it('answers an unknown key with 503 and Retry-After while the issuer is down', async () => {
    const server = await idp([k1])
    const tokens = verifier(server)
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    server.down(true)
    const error = await Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k2)))).catch(
      (e) => e,
    )
    expect(error).toMatchObject({ code: 'dependency_unavailable', status: 503 })
    const rendered = renderError(error)
    expect(rendered.status).toBe(503)
    expect(Number(rendered.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(rendered.headers['www-authenticate']).toBeUndefined()
    expect(rendered.body).not.toContain('service unavailable')
    // Within the cooldown, still 503, never 401: we cannot tell a new key from a forged one.
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k2)))),
    ).rejects.toMatchObject({
      code: 'dependency_unavailable',
    })
  })

  it('answers 503 while the issuer is down at startup, and recovers without restart', async () => {
    const server = await idp([k1])
    server.down(true)
    const tokens = verifier(server)
    const token = await tokenFor(server, k1)
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).rejects.toMatchObject({
      code: 'dependency_unavailable',
    })
    // Retried after a short backoff, not on every request, and never cached as a failure.
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).rejects.toMatchObject({
      code: 'dependency_unavailable',
    })
    const attempts = server.requests.total
    server.down(false)
    await sleep(1100)
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
    expect(attempts).toBeLessThanOrEqual(2)
  })

  it('times out a slow issuer with 503 jwks_timeout (issue 20)', async () => {
    const server = await idp([k1])
    server.delay(1000)
    const tokens = verifier(server, { jwksUri: server.jwksUri, http: { timeout: 100 } })
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await tokenFor(server, k1)))),
    ).rejects.toMatchObject({
      code: 'dependency_unavailable',
      reason: 'jwks_timeout',
    })
  })

  it('ignores private and symmetric members of a JWKS', async () => {
    const leaky: SigningKey = await generateSigningKey('ES256', 'k1')
    const server = await startJwksServer({
      keys: [leaky.privateJwk, { kty: 'oct', k: 'c2VjcmV0', kid: 'k1' }, k2.publicJwk],
    })
    servers.push(server)
    const token = await sign({ ...k1, privateKey: leaky.privateKey }, claims({ iss: server.issuer }))
    await expect(Promise.resolve(verifier(server).authenticate(bearer(token)))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'unknown_key',
    })
  })

  it('keeps the key sets of several issuers apart', async () => {
    const a = await idp([k1])
    const b = await idp([k2])
    const tokens = jwtBearer({
      issuer: [a.issuer, b.issuer],
      audience: 'api://orders',
      algorithms: ['ES256'],
    })
    expect((await tokens.authenticate(bearer(await tokenFor(a, k1)))).issuer).toBe(a.issuer)
    expect((await tokens.authenticate(bearer(await tokenFor(b, k2)))).issuer).toBe(b.issuer)
    // Issuer B's key cannot vouch for a token claiming to come from A.
    await expect(Promise.resolve(tokens.authenticate(bearer(await tokenFor(a, k2))))).rejects.toMatchObject({
      code: 'invalid_token',
    })
    await expect(
      tokens.authenticate(bearer(await sign(k1, claims({ iss: 'https://other.example.com/' })))),
    ).rejects.toMatchObject({ reason: 'claim:iss' })
  })
})

describe('jwtBearer: keys older than http.maxStale stop verifying (issue 12)', () => {
  const outages: [string, (server: JwksServer) => void, (server: JwksServer) => void][] = [
    ['answers 503', (s) => s.down(true, 'status'), (s) => s.down(false)],
    ['drops connections', (s) => s.down(true, 'reset'), (s) => s.down(false)],
    ['answers {"keys":[]}', (s) => s.setJwks({ keys: [] }), (s) => s.setJwks({ keys: [k1.publicJwk] })],
  ]

  /** The `{ code, reason, status, retryAfter }` of an error, and whether it challenges the client. */
  const refusal = (error: unknown) => {
    const { status, headers } = renderError(error)
    return {
      code: (error as { code?: unknown }).code,
      reason: (error as { reason?: unknown }).reason,
      status,
      retryAfter: Number(headers['retry-after']),
      challenged: headers['www-authenticate'] !== undefined,
    }
  }
  const stale = { code: 'dependency_unavailable', reason: 'jwks_stale', status: 503, retryAfter: 1 }

  it.each(outages)(
    'refuses every token with 503 jwks_stale once the issuer %s for longer than maxStale, then recovers',
    async (_name, breakIssuer, mendIssuer) => {
      fakeClock()
      const server = await idp([k1])
      const tokens = verifier(server, { cache: false, http: { maxAge: 60_000, maxStale: 300_000 } })
      const token = await tokenFor(server, k1)
      await tokens.authenticate(bearer(token))
      breakIssuer(server)
      // Within maxStale the last good keys verify, while the background refresh fails.
      await vi.advanceTimersByTimeAsync(299_000)
      await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
      await until(() => server.requests.jwks === 2)
      // Past it, neither a known key nor an unknown one verifies: 503 with Retry-After, never a 401.
      await vi.advanceTimersByTimeAsync(2000)
      const stranger = await tokenFor(server, await testKey('ES256', 'random'))
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => settle(tokens.authenticate(bearer(i % 2 ? stranger : token)))),
      )
      for (const answer of answers) expect(refusal(answer.error)).toEqual({ ...stale, challenged: false })
      // The twenty share one fetch; the next waits out the backoff.
      expect(server.requests.jwks).toBeLessThanOrEqual(3)
      const fetched = server.requests.jwks
      expect(
        refusal(await Promise.resolve(tokens.authenticate(bearer(token))).catch((e: unknown) => e)),
      ).toMatchObject(stale)
      expect(server.requests.jwks).toBe(fetched)
      // The issuer is back: after the backoff, the next token refetches and verifies.
      mendIssuer(server)
      await vi.advanceTimersByTimeAsync(1000)
      await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toMatchObject({
        issuer: server.issuer,
      })
      await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
      expect(server.requests.jwks).toBe(fetched + 1)
    },
  )

  it('refuses a token the verified-token cache holds once the keys are past maxStale, then recovers', async () => {
    fakeClock()
    const server = await idp([k1])
    const cache = { maxTtlSeconds: 3600 }
    const tokens = verifier(server, { cache, http: { maxAge: 60_000, maxStale: 300_000 } })
    const token = await tokenFor(server, k1)
    await tokens.authenticate(bearer(token))
    server.down(true, 'status')
    await vi.advanceTimersByTimeAsync(299_000)
    // Within maxStale the cached token serves (a hit reads nothing from the issuer).
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
    await vi.advanceTimersByTimeAsync(2000)
    expect(
      refusal(await Promise.resolve(tokens.authenticate(bearer(token))).catch((e: unknown) => e)),
    ).toMatchObject(stale)
    server.down(false)
    await vi.advanceTimersByTimeAsync(1000)
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toMatchObject({
      issuer: server.issuer,
    })
  })

  it('verifies a cached token again after a refresh, so a key removed from the JWKS stops serving it', async () => {
    fakeClock()
    const server = await idp([k1, k2])
    const tokens = verifier(server, { cache: { maxTtlSeconds: 3600 }, http: { maxAge: 60_000 } })
    const revoked = await tokenFor(server, k1)
    const kept = await tokenFor(server, k2)
    await tokens.authenticate(bearer(revoked))
    await tokens.authenticate(bearer(kept))
    // The issuer drops k1 (a compromised key); the next refresh brings the set without it.
    server.setJwks({ keys: [k2.publicJwk] })
    await vi.advanceTimersByTimeAsync(60_001)
    await tokens.authenticate(bearer(await tokenFor(server, k2)))
    await until(() => server.requests.jwks === 2)
    // k1's token is no longer served from the cache: verified again, its key is unknown now.
    const pending = settle(tokens.authenticate(bearer(revoked)))
    await vi.advanceTimersByTimeAsync(6000)
    const { error } = await pending
    expect(refusal(error)).toMatchObject({ code: 'invalid_token', status: 401 })
    // A token of a key still published verifies again once, and is cached again.
    await expect(Promise.resolve(tokens.authenticate(bearer(kept)))).resolves.toBeDefined()
  })

  it('keeps cached keys a day by default, and no longer', async () => {
    fakeClock()
    const server = await idp([k1])
    const tokens = verifier(server, { cache: false })
    const token = await tokenFor(server, k1)
    await tokens.authenticate(bearer(token))
    server.down(true)
    await vi.advanceTimersByTimeAsync(86_399_000)
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
    await until(() => server.requests.jwks === 2)
    await vi.advanceTimersByTimeAsync(2000)
    expect(
      refusal(await Promise.resolve(tokens.authenticate(bearer(token))).catch((e: unknown) => e)),
    ).toMatchObject(stale)
  })

  it('refetches in the foreground when maxStale equals maxAge, and refuses on a failed fetch', async () => {
    fakeClock()
    const server = await idp([k1])
    const tokens = verifier(server, { cache: false, http: { maxAge: 60_000, maxStale: 60_000 } })
    const token = await tokenFor(server, k1)
    await tokens.authenticate(bearer(token))
    await vi.advanceTimersByTimeAsync(60_001)
    // The keys are due and past their bound at once: the token waits for the fetch, which succeeds.
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).resolves.toBeDefined()
    expect(server.requests.jwks).toBe(2)
    server.setJwks({ keys: [] })
    await vi.advanceTimersByTimeAsync(60_001)
    expect(
      refusal(await Promise.resolve(tokens.authenticate(bearer(token))).catch((e: unknown) => e)),
    ).toMatchObject(stale)
    expect(server.requests.jwks).toBe(3)
  })
})
