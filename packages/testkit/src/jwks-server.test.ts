import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { signAccessToken } from './access-token.js'
import { type JwksServer, startJwksServer } from './jwks-server.js'
import { generateSigningKey, type SigningKey, toJwks } from './keys.js'

describe('startJwksServer', () => {
  let first: SigningKey
  let second: SigningKey
  let idp: JwksServer

  beforeAll(async () => {
    first = await generateSigningKey('ES256', 'first')
    second = await generateSigningKey('ES256', 'second')
    idp = await startJwksServer(toJwks(first), { cacheControl: 'max-age=60' })
  })
  afterAll(() => idp.close())
  beforeEach(() => {
    idp.setJwks(toJwks(first))
    idp.setDiscovery({})
    idp.down(false)
    idp.delay(0)
    idp.resetRequests()
  })

  it('serves discovery naming its own origin, and the JWKS', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const discovery = await fetch(idp.discoveryUri)
    expect(await discovery.json()).toEqual({ issuer: idp.issuer, jwks_uri: idp.jwksUri })

    const jwks = await fetch(idp.jwksUri)
    expect(jwks.status).toBe(200)
    expect(jwks.headers.get('cache-control')).toBe('max-age=60')
    expect(await jwks.json()).toEqual({ keys: [first.publicJwk] })
  })

  it('counts requests per path', async () => {
    await fetch(idp.jwksUri)
    await fetch(idp.jwksUri)
    await fetch(idp.discoveryUri)
    await fetch(`${idp.issuer}/elsewhere?x=1`)
    expect(idp.requests).toMatchObject({ jwks: 2, discovery: 1, total: 4 })
    expect(idp.requests.byPath.get('/elsewhere')).toBe(1)
  })

  it('serves rotated keys', async () => {
    const verifierKeys = createRemoteJWKSet(new URL(idp.jwksUri))
    const token = await signAccessToken(second, { iss: idp.issuer, aud: 'api://orders', sub: 'svc' })
    await expect(jwtVerify(token, verifierKeys)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })

    idp.setJwks(toJwks(first, second))
    expect(await (await fetch(idp.jwksUri)).json()).toEqual({ keys: [first.publicJwk, second.publicJwk] })
    const fresh = createRemoteJWKSet(new URL(idp.jwksUri))
    await expect(jwtVerify(token, fresh)).resolves.toMatchObject({ payload: { sub: 'svc' } })
  })

  it('answers 503 while down, and recovers', async () => {
    idp.down(true)
    const down = await fetch(idp.jwksUri)
    expect(down.status).toBe(503)
    expect((await fetch(idp.discoveryUri)).status).toBe(503)
    idp.down(false)
    expect((await fetch(idp.jwksUri)).status).toBe(200)
    expect(idp.requests.jwks).toBe(2)
  })

  it('destroys connections in the reset mode', async () => {
    idp.down(true, 'reset')
    await expect(fetch(idp.jwksUri)).rejects.toThrow(TypeError)
    expect(idp.requests.jwks).toBe(1)
  })

  it('holds answers back by the delay', async () => {
    idp.delay(150)
    const started = performance.now()
    expect((await fetch(idp.jwksUri)).status).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
  })

  it('lets a test make discovery lie', async () => {
    idp.setDiscovery({ issuer: 'https://impostor.example', jwks_uri: undefined })
    expect(await (await fetch(idp.discoveryUri)).json()).toEqual({ issuer: 'https://impostor.example' })
  })
})

describe('startJwksServer close', () => {
  it('cancels held-back answers and stops listening', async () => {
    const idp = await startJwksServer({ keys: [] })
    idp.delay(10_000)
    const pending = fetch(idp.jwksUri)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await idp.close()
    await expect(pending).rejects.toThrow(TypeError)
    await expect(fetch(idp.jwksUri)).rejects.toThrow(TypeError)
  })
})
