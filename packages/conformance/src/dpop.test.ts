// RFC 9449 over real HTTP in every framework: the proof, the nonce round trip, the DPoP-Nonce header
// (exposed to CORS clients) and the challenges must come out identically.
import type { DecisionEvent } from '@zerotrust/core'
import { dpop } from '@zerotrust/dpop'
import { jwtBearer } from '@zerotrust/jwt'
import {
  createDpopProof,
  generateSigningKey,
  type JwksServer,
  jwkThumbprint,
  type SigningKey,
  signAccessToken,
  startJwksServer,
  toJwks,
} from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MountedApp, TestRequest } from './harness.js'
import { frameworks } from './mounts/index.js'
import { publicOrigin, realm } from './scenarios.js'

const audience = 'api://orders'
const url = `${publicOrigin}/orders`
const nonceSecret = 'conformance-nonce-secret-0123456789abcdef'

let issuerKey: SigningKey
let clientKey: SigningKey
let jwks: JwksServer
let jkt: string
beforeAll(async () => {
  issuerKey = await generateSigningKey('ES256', 'issuer')
  clientKey = await generateSigningKey('ES256')
  jwks = await startJwksServer(toJwks(issuerKey))
  jkt = await jwkThumbprint(clientKey)
})
afterAll(() => jwks.close())

const boundToken = () =>
  signAccessToken(issuerKey, {
    iss: jwks.issuer,
    aud: audience,
    sub: 'alice',
    client_id: 'web-app',
    scope: 'orders:read',
    cnf: { jkt },
  })
const get = (headers: [string, string][], path = '/orders'): TestRequest => ({ method: 'GET', path, headers })
const proofFor = (token: string, extra: { nonce?: string; url?: string } = {}) =>
  createDpopProof(clientKey, { method: 'GET', url: extra.url ?? url, accessToken: token, ...extra })
const browserOrigin = 'https://app.example.com'
const problem = (body: string) => JSON.parse(body) as { code: string; reason?: string; status: number }

describe.each(Object.entries(frameworks))('%s', (_name, mount) => {
  const events: DecisionEvent[] = []
  let plain: MountedApp
  let withNonces: MountedApp
  let withCors: MountedApp

  beforeAll(async () => {
    const inner = () => jwtBearer({ issuer: jwks.issuer, audience, algorithms: ['ES256'] })
    const common = { onDecision: (e: DecisionEvent) => events.push(e), realm, publicOrigin }
    plain = await mount({ ...common, authenticator: dpop(inner(), { algorithms: ['ES256'] }) })
    withNonces = await mount({
      ...common,
      authenticator: dpop(inner(), { algorithms: ['ES256'], nonce: { secret: nonceSecret } }),
    })
    withCors = await mount({
      ...common,
      authenticator: dpop(inner(), { algorithms: ['ES256'], nonce: { secret: nonceSecret } }),
      cors: { origin: browserOrigin, exposedHeaders: ['X-Request-Id'] },
    })
  })
  afterAll(async () => {
    await Promise.all([plain.close(), withNonces.close(), withCors.close()])
  })

  it('a DPoP-bound token with a proof for the public URL: 200, auth.scheme DPoP, one allow per layer', async () => {
    events.length = 0
    const token = await boundToken()
    const response = await plain.send(
      get([
        ['Authorization', `DPoP ${token}`],
        ['DPoP', await proofFor(token)],
      ]),
    )
    expect(response.status).toBe(200)
    expect(JSON.parse(response.body).auth).toMatchObject({ scheme: 'DPoP', subject: 'alice', cnf: { jkt } })
    expect(events.map(({ layer, outcome }) => ({ layer, outcome }))).toEqual([
      { layer: 'dpop/jwt', outcome: 'allow' },
      { layer: 'scopes', outcome: 'allow' },
    ])
  })

  it('the same proof twice: the replay is 401 invalid_dpop_proof', async () => {
    const token = await boundToken()
    const proof = await proofFor(token)
    const request = get([
      ['Authorization', `DPoP ${token}`],
      ['DPoP', proof],
    ])
    expect((await plain.send(request)).status).toBe(200)
    const replay = await plain.send(request)
    expect(replay.status).toBe(401)
    expect(problem(replay.body)).toMatchObject({ code: 'invalid_dpop_proof', reason: 'replayed' })
    expect(replay.headers['www-authenticate']).toBe(
      `DPoP realm="${realm}", error="invalid_dpop_proof", error_description="the DPoP proof was already used", algs="ES256", Bearer realm="${realm}"`,
    )
  })

  it('no proof: 401 invalid_dpop_proof; a DPoP-bound token as Bearer: 401 invalid_token', async () => {
    const token = await boundToken()
    const missing = await plain.send(get([['Authorization', `DPoP ${token}`]]))
    expect(missing.status).toBe(401)
    expect(problem(missing.body)).toMatchObject({ code: 'invalid_dpop_proof', reason: 'missing_proof' })
    const asBearer = await plain.send(get([['Authorization', `Bearer ${token}`]]))
    expect(asBearer.status).toBe(401)
    expect(problem(asBearer.body)).toMatchObject({ code: 'invalid_token', reason: 'dpop_bound' })
    expect(asBearer.headers['www-authenticate']).toMatch(
      /^Bearer realm="orders", error="invalid_token", .*, DPoP realm="orders", algs="ES256"$/,
    )
  })

  it('no credentials: both challenges, no error attribute', async () => {
    const response = await plain.send(get([]))
    expect(response.status).toBe(401)
    expect(response.headers['www-authenticate']).toBe(
      `DPoP realm="${realm}", algs="ES256", Bearer realm="${realm}"`,
    )
  })

  it('htu is checked against the configured origin, not the Host header the request carried', async () => {
    const token = await boundToken()
    // The request arrives with Host: 127.0.0.1; a proof for that URL must not pass.
    const forHost = await proofFor(token, { url: 'http://127.0.0.1/orders' })
    const response = await plain.send(
      get([
        ['Authorization', `DPoP ${token}`],
        ['DPoP', forHost],
      ]),
    )
    expect(response.status).toBe(401)
    expect(problem(response.body)).toMatchObject({ code: 'invalid_dpop_proof', reason: 'htu' })
  })

  it('two DPoP headers: 401 invalid_dpop_proof', async () => {
    const token = await boundToken()
    const proof = await proofFor(token)
    const response = await plain.send(
      get([
        ['Authorization', `DPoP ${token}`],
        ['DPoP', proof],
        ['DPoP', proof],
      ]),
    )
    expect(response.status).toBe(401)
    expect(problem(response.body)).toMatchObject({ code: 'invalid_dpop_proof', reason: 'multiple_proofs' })
  })

  it('a proof over the size bound (12 KiB) is refused before parsing', async () => {
    const token = await boundToken()
    const response = await plain.send(
      get([
        ['Authorization', `DPoP ${token}`],
        ['DPoP', `${'a'.repeat(12 * 1024)}.b.c`],
      ]),
    )
    expect(response.status).toBe(401)
    expect(problem(response.body)).toMatchObject({ code: 'invalid_dpop_proof', reason: 'proof_too_large' })
  })

  it('nonces: 401 use_dpop_nonce with an exposed DPoP-Nonce, then 200 carrying the current nonce', async () => {
    const token = await boundToken()
    const first = await withNonces.send(
      get([
        ['Authorization', `DPoP ${token}`],
        ['DPoP', await proofFor(token)],
      ]),
    )
    expect(first.status).toBe(401)
    expect(first.headers['www-authenticate']).toBe(
      `DPoP realm="${realm}", error="use_dpop_nonce", error_description="the DPoP proof must carry the server nonce", algs="ES256", Bearer realm="${realm}"`,
    )
    const nonce = first.headers['dpop-nonce'] as string
    expect(nonce).toMatch(/^[\w-]{20,}$/)
    expect(first.headers['access-control-expose-headers']).toContain('DPoP-Nonce')

    const second = await withNonces.send(
      get([
        ['Authorization', `DPoP ${token}`],
        ['DPoP', await proofFor(token, { nonce })],
      ]),
    )
    expect(second.status).toBe(200)
    expect(second.headers['dpop-nonce']).toBe(nonce)
    expect(second.headers['access-control-expose-headers']).toContain('DPoP-Nonce')
  })

  it("behind the framework's CORS middleware: DPoP-Nonce joins the exposed headers it set", async () => {
    const token = await boundToken()
    const exposed = (value: string | undefined) =>
      (value ?? '').split(',').map((name) => name.trim().toLowerCase())
    const first = await withCors.send(
      get([
        ['Origin', browserOrigin],
        ['Authorization', `DPoP ${token}`],
        ['DPoP', await proofFor(token)],
      ]),
    )
    expect(first.status).toBe(401)
    expect(first.headers['access-control-allow-origin']).toBe(browserOrigin)
    expect(exposed(first.headers['access-control-expose-headers'])).toEqual(
      expect.arrayContaining(['x-request-id', 'dpop-nonce']),
    )
    const nonce = first.headers['dpop-nonce'] as string
    const second = await withCors.send(
      get([
        ['Origin', browserOrigin],
        ['Authorization', `DPoP ${token}`],
        ['DPoP', await proofFor(token, { nonce })],
      ]),
    )
    expect(second.status).toBe(200)
    expect(second.headers['access-control-allow-origin']).toBe(browserOrigin)
    expect(second.headers['dpop-nonce']).toBe(nonce)
    expect(exposed(second.headers['access-control-expose-headers'])).toEqual(
      expect.arrayContaining(['x-request-id', 'dpop-nonce']),
    )
  })
})
