// End to end against a real OAuth authorization server (oidc-provider on loopback): discovery, client
// authentication, opaque tokens, revocation and DPoP-bound tokens as a production server answers them.
import { randomBytes } from 'node:crypto'
import {
  type AuthorizationServer,
  createDpopProof,
  generateSigningKey,
  jwkThumbprint,
  startAuthorizationServer,
} from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type IntrospectionOptions, introspection } from '../src/index.js'
import { bearer, rejection } from './fixtures.js'

let as: AuthorizationServer
let revocationEndpoint: string

beforeAll(async () => {
  as = await startAuthorizationServer({
    resources: [
      { indicator: 'api://orders', scope: 'orders:read orders:write', format: 'opaque' },
      { indicator: 'api://billing', scope: 'billing:read', format: 'opaque' },
    ],
    clients: [
      { clientId: 'web-app' },
      { clientId: 'orders-api', clientSecret: 'orders-api-secret-v1', authMethod: 'client_secret_post' },
    ],
  })
  const metadata = (await (await fetch(as.discoveryUri)).json()) as { revocation_endpoint: string }
  revocationEndpoint = metadata.revocation_endpoint
})

afterAll(() => as.close())

const tokens = (overrides: Partial<IntrospectionOptions> = {}) =>
  introspection({
    issuer: as.issuer,
    audience: 'api://orders',
    clientId: 'orders-api',
    clientAuthentication: { method: 'client_secret_post', secret: 'orders-api-secret-v1' },
    ...overrides,
  })

async function revoke(token: string): Promise<void> {
  const client = as.clients[0]
  const basic = Buffer.from(`${client?.clientId}:${client?.clientSecret}`).toString('base64')
  const response = await fetch(revocationEndpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  })
  expect(response.status).toBe(200)
}

describe('introspection with oidc-provider as the authorization server', () => {
  it('introspects an opaque token through a discovered endpoint', async () => {
    const { accessToken } = await as.token({ scope: 'orders:read', format: 'opaque' })
    expect(accessToken).not.toContain('.')
    const auth = await tokens().authenticate(bearer(accessToken))
    expect(auth).toMatchObject({
      issuer: as.issuer,
      audience: ['api://orders'],
      clientId: 'web-app',
      scopes: ['orders:read'],
      scheme: 'Bearer',
      format: 'opaque',
      cnf: undefined,
    })
    expect(auth.expiresAt).toBeGreaterThan(Date.now() / 1000)
  })

  it('introspects through an explicit endpoint with client_secret_basic', async () => {
    const { accessToken } = await as.token({ format: 'opaque' })
    const basic = tokens({
      introspectionEndpoint: as.introspectionEndpoint,
      clientId: 'web-app',
      clientAuthentication: { method: 'client_secret_basic', secret: as.clients[0]?.clientSecret ?? '' },
    })
    await expect(Promise.resolve(basic.authenticate(bearer(accessToken)))).resolves.toMatchObject({
      format: 'opaque',
    })
  })

  it('refuses a token issued for another resource server', async () => {
    const { accessToken } = await as.token({ scope: 'billing:read', resource: 'api://billing' })
    expect(await rejection(tokens().authenticate(bearer(accessToken)))).toMatchObject({
      code: 'invalid_token',
      reason: 'claim:aud',
      status: 401,
    })
  })

  it('refuses an unknown token as inactive', async () => {
    expect(await rejection(tokens().authenticate(bearer('not-a-token-the-server-issued')))).toMatchObject({
      code: 'invalid_token',
      reason: 'inactive',
      status: 401,
    })
  })

  it('keeps a flood of random tokens under the concurrency cap and still accepts a real token (issue 12)', async () => {
    const inFlight = { now: 0, most: 0 }
    // Counted at the transport: what oidc-provider is asked to do at once.
    const counting: typeof fetch = async (input, init) => {
      inFlight.most = Math.max(inFlight.most, ++inFlight.now)
      try {
        return await fetch(input, init)
      } finally {
        inFlight.now--
      }
    }
    const layer = tokens({
      introspectionEndpoint: as.introspectionEndpoint,
      maxConcurrent: 4,
      maxQueued: 300,
      fetch: counting,
    })
    const random = () => randomBytes(32).toString('base64url')
    const results = await Promise.all(
      Array.from({ length: 200 }, () => rejection(layer.authenticate(bearer(random())))),
    )
    expect(results.every((r) => r.code === 'invalid_token' && r.reason === 'inactive')).toBe(true)
    expect(inFlight.most).toBeLessThanOrEqual(4)
    const { accessToken } = await as.token({ format: 'opaque' })
    await expect(Promise.resolve(layer.authenticate(bearer(accessToken)))).resolves.toMatchObject({
      format: 'opaque',
    })
  })

  it('sees a revoked token as inactive once the cache bound has passed', async () => {
    const layer = tokens({ cache: { maxTtl: 1 } })
    const { accessToken } = await as.token({ format: 'opaque' })
    await expect(Promise.resolve(layer.authenticate(bearer(accessToken)))).resolves.toBeDefined()
    await revoke(accessToken)
    // Within the bound the cached answer still serves: that is the trade-off `maxTtl` sets.
    await expect(Promise.resolve(layer.authenticate(bearer(accessToken)))).resolves.toBeDefined()
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect(await rejection(layer.authenticate(bearer(accessToken)))).toMatchObject({
      code: 'invalid_token',
      reason: 'inactive',
    })
  })

  it('picks up a rotated client secret through the getter, without a restart', async () => {
    let current = 'a-secret-that-was-rotated-away'
    const layer = tokens({
      cache: false,
      clientAuthentication: { method: 'client_secret_post', secret: async () => current },
    })
    const { accessToken } = await as.token({ format: 'opaque' })
    expect(await rejection(layer.authenticate(bearer(accessToken)))).toMatchObject({
      code: 'dependency_unavailable',
      reason: 'introspection_rejected',
      status: 503,
    })
    current = 'orders-api-secret-v1'
    await expect(Promise.resolve(layer.authenticate(bearer(accessToken)))).resolves.toMatchObject({
      format: 'opaque',
    })
  })

  it('refuses a DPoP-bound opaque token presented as Bearer, and verify() exposes its cnf.jkt', async () => {
    const key = await generateSigningKey('ES256')
    const dpopProof = await createDpopProof(key, { method: 'POST', url: as.tokenEndpoint })
    const { accessToken, tokenType } = await as.token({ format: 'opaque', dpopProof })
    expect(tokenType).toBe('DPoP')
    const layer = tokens()
    expect(await rejection(layer.authenticate(bearer(accessToken)))).toMatchObject({
      code: 'invalid_token',
      reason: 'dpop_bound',
      status: 401,
    })
    const auth = await layer.verify(accessToken, { binding: 'checked-by-caller' })
    expect(auth.cnf?.jkt).toBe(await jwkThumbprint(key))
    expect(auth.claims.token_type).toBe('DPoP')
  })
})

describe('introspection with RFC 9701 signed answers', () => {
  let signer: AuthorizationServer
  beforeAll(async () => {
    // RS256 signs the answers: without discovery metadata to say otherwise, oauth4webapi expects RS256.
    signer = await startAuthorizationServer({
      algorithms: ['RS256', 'ES256'],
      resources: [{ indicator: 'api://orders', scope: 'orders:read', format: 'opaque' }],
      clients: [{ clientId: 'orders-api', clientSecret: 'orders-api-secret-v1' }],
    })
  })
  afterAll(() => signer.close())

  const signed = (overrides: Partial<IntrospectionOptions> = {}) =>
    introspection({
      issuer: signer.issuer,
      audience: 'api://orders',
      clientId: 'orders-api',
      clientAuthentication: { method: 'client_secret_basic', secret: 'orders-api-secret-v1' },
      signedResponses: true,
      ...overrides,
    })

  it('asks for a signed answer and verifies it with the keys of the discovered jwks_uri', async () => {
    const { accessToken } = await signer.token({ scope: 'orders:read', format: 'opaque' })
    const auth = await signed().authenticate(bearer(accessToken))
    expect(auth).toMatchObject({ issuer: signer.issuer, clientId: 'orders-api', scopes: ['orders:read'] })
  })

  it('verifies with an explicit jwksUri beside an explicit endpoint', async () => {
    const { accessToken } = await signer.token({ scope: 'orders:read', format: 'opaque' })
    const auth = await signed({
      introspectionEndpoint: signer.introspectionEndpoint,
      jwksUri: signer.jwksUri,
    }).authenticate(bearer(accessToken))
    expect(auth.format).toBe('opaque')
  })

  it('refuses an unsigned answer when signed ones are required (no downgrade)', async () => {
    const { accessToken } = await signer.token({ scope: 'orders:read', format: 'opaque' })
    // A fetch that drops the Accept header gets a plain JSON answer from the same server.
    const unsignedFetch: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('accept', 'application/json')
      return fetch(input, { ...init, headers })
    }
    expect(await rejection(signed({ fetch: unsignedFetch }).authenticate(bearer(accessToken)))).toMatchObject(
      {
        code: 'dependency_unavailable',
        reason: 'introspection_malformed',
        status: 503,
      },
    )
  })

  it('needs the issuer keys named when the endpoint is explicit', () => {
    expect(() => signed({ introspectionEndpoint: signer.introspectionEndpoint })).toThrow(/"jwksUri" option/)
  })
})
