import { renderError } from '@zerotrust/core'
import { generateSigningKey, type JwksServer, type SigningKey, startJwksServer } from '@zerotrust/testkit'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bearer, claims, sign, type TestKey, testKey } from '../test/fixtures.js'
import { type JwtBearerOptions, jwtBearer } from './index.js'

let k1: TestKey
let k2: TestKey
const servers: JwksServer[] = []

beforeAll(async () => {
  ;[k1, k2] = await Promise.all([testKey('ES256', 'k1'), testKey('ES256', 'k2')])
})

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function idp(keys: TestKey[], options?: Parameters<typeof startJwksServer>[1]) {
  const server = await startJwksServer({ keys: keys.map((k) => k.publicJwk) }, options)
  servers.push(server)
  return server
}

const tokenFor = (server: { issuer: string }, key: TestKey) => sign(key, claims({ iss: server.issuer }))

const verifier = (server: { issuer: string }, options: Partial<JwtBearerOptions> = {}) =>
  jwtBearer({
    issuer: server.issuer,
    audience: 'api://orders',
    algorithms: ['ES256'],
    ...options,
  } as JwtBearerOptions)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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
    const error = await verifier(server)
      .authenticate(bearer(await tokenFor(server, k1)))
      .catch((e) => e)
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
    await expect(verifier(server).authenticate(bearer(await tokenFor(server, k1)))).rejects.toMatchObject({
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
    await expect(tokens.authenticate(bearer(await tokenFor(server, k2)))).resolves.toBeDefined()
    expect(server.requests.jwks).toBe(2)
  })

  it('stops accepting a key the issuer removed, once its keys are refetched', async () => {
    const server = await idp([k1])
    const tokens = verifier(server, { cache: false })
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    server.setJwks({ keys: [k2.publicJwk] })
    // The new kid triggers the refetch; the remembered k1 key must not outlive it.
    await tokens.authenticate(bearer(await tokenFor(server, k2)))
    await expect(tokens.authenticate(bearer(await tokenFor(server, k1)))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'unknown_key',
    })
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

  it('refetches for unknown kids at most once per cooldown', async () => {
    const server = await idp([k1])
    const tokens = verifier(server)
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    for (let i = 0; i < 5; i++) {
      const stranger = await testKey('ES256', `random-${i}`)
      await expect(tokens.authenticate(bearer(await tokenFor(server, stranger)))).rejects.toMatchObject({
        code: 'invalid_token',
        reason: 'unknown_key',
      })
    }
    // One fetch at startup, one for the first unknown kid; the rest fall inside the cooldown.
    expect(server.requests.jwks).toBe(2)
  })

  it.each(['status', 'reset'] as const)(
    'keeps verifying with cached keys while the issuer is down (%s)',
    async (mode) => {
      const server = await idp([k1])
      const tokens = verifier(server, { cache: false, http: { maxAge: 1 } })
      await tokens.authenticate(bearer(await tokenFor(server, k1)))
      server.down(true, mode)
      for (let i = 0; i < 3; i++) {
        await sleep(5)
        await expect(tokens.authenticate(bearer(await tokenFor(server, k1)))).resolves.toBeDefined()
      }
    },
  )

  it('answers an unknown key with 503 and Retry-After while the issuer is down', async () => {
    const server = await idp([k1])
    const tokens = verifier(server)
    await tokens.authenticate(bearer(await tokenFor(server, k1)))
    server.down(true)
    const error = await tokens.authenticate(bearer(await tokenFor(server, k2))).catch((e) => e)
    expect(error).toMatchObject({ code: 'dependency_unavailable', status: 503 })
    const rendered = renderError(error)
    expect(rendered.status).toBe(503)
    expect(Number(rendered.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(rendered.headers['www-authenticate']).toBeUndefined()
    expect(rendered.body).not.toContain('service unavailable')
    // Within the cooldown, still 503, never 401: we cannot tell a new key from a forged one.
    await expect(tokens.authenticate(bearer(await tokenFor(server, k2)))).rejects.toMatchObject({
      code: 'dependency_unavailable',
    })
  })

  it('answers 503 while the issuer is down at startup, and recovers without restart', async () => {
    const server = await idp([k1])
    server.down(true)
    const tokens = verifier(server)
    const token = await tokenFor(server, k1)
    await expect(tokens.authenticate(bearer(token))).rejects.toMatchObject({ code: 'dependency_unavailable' })
    // Retried after a short backoff, not on every request, and never cached as a failure.
    await expect(tokens.authenticate(bearer(token))).rejects.toMatchObject({ code: 'dependency_unavailable' })
    const attempts = server.requests.total
    server.down(false)
    await sleep(1100)
    await expect(tokens.authenticate(bearer(token))).resolves.toBeDefined()
    expect(attempts).toBeLessThanOrEqual(2)
  })

  it('times out a slow issuer with 503', async () => {
    const server = await idp([k1])
    server.delay(1000)
    const tokens = verifier(server, { jwksUri: server.jwksUri, http: { timeout: 100 } })
    await expect(tokens.authenticate(bearer(await tokenFor(server, k1)))).rejects.toMatchObject({
      code: 'dependency_unavailable',
      reason: 'jwks_unavailable',
    })
  })

  it('ignores private and symmetric members of a JWKS', async () => {
    const leaky: SigningKey = await generateSigningKey('ES256', 'k1')
    const server = await startJwksServer({
      keys: [leaky.privateJwk, { kty: 'oct', k: 'c2VjcmV0', kid: 'k1' }],
    })
    servers.push(server)
    const token = await sign({ ...k1, privateKey: leaky.privateKey }, claims({ iss: server.issuer }))
    await expect(verifier(server).authenticate(bearer(token))).rejects.toMatchObject({
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
    await expect(tokens.authenticate(bearer(await tokenFor(a, k2)))).rejects.toMatchObject({
      code: 'invalid_token',
    })
    await expect(
      tokens.authenticate(bearer(await sign(k1, claims({ iss: 'https://other.example.com/' })))),
    ).rejects.toMatchObject({ reason: 'claim:iss' })
  })
})
