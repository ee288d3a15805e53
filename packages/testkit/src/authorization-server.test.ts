import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AuthorizationServer,
  startAuthorizationServer,
  TokenRequestError,
} from './authorization-server.js'
import { createDpopProof } from './dpop-proof.js'
import { generateSigningKey, jwkThumbprint } from './keys.js'

describe('startAuthorizationServer', () => {
  let as: AuthorizationServer

  beforeAll(async () => {
    as = await startAuthorizationServer({
      algorithms: ['ES256', 'RS256', 'EdDSA'],
      clients: [
        { clientId: 'orders-client' },
        { clientId: 'reader', scope: 'orders:read', authMethod: 'client_secret_post' },
      ],
    })
  })
  afterAll(() => as.close())

  it('listens on loopback and publishes discovery metadata', async () => {
    expect(as.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const metadata = (await (await fetch(as.discoveryUri)).json()) as Record<string, unknown>
    expect(metadata).toMatchObject({
      issuer: as.issuer,
      jwks_uri: as.jwksUri,
      token_endpoint: as.tokenEndpoint,
      introspection_endpoint: as.introspectionEndpoint,
    })
    expect(metadata.grant_types_supported).toContain('client_credentials')
  })

  it('issues RFC 9068 JWT access tokens through client_credentials', async () => {
    const response = await as.token({ scope: 'orders:read' })
    expect(response).toMatchObject({ tokenType: 'Bearer', expiresIn: 300, scope: 'orders:read' })

    const header = decodeProtectedHeader(response.accessToken)
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: as.keys[0]?.kid })

    const claims = decodeJwt(response.accessToken)
    expect(claims).toMatchObject({
      iss: as.issuer,
      aud: 'api://orders',
      sub: 'orders-client',
      client_id: 'orders-client',
      scope: 'orders:read',
    })
    expect(claims.exp).toBe((claims.iat as number) + 300)
    expect(claims.jti).toEqual(expect.any(String))
  })

  it('signs tokens that verify against its JWKS with each configured algorithm', async () => {
    const keys = createRemoteJWKSet(new URL(as.jwksUri))
    for (const algorithm of ['ES256', 'RS256', 'EdDSA'] as const) {
      const { accessToken } = await as.token({ algorithm })
      const { protectedHeader } = await jwtVerify(accessToken, keys, {
        issuer: as.issuer,
        audience: 'api://orders',
        algorithms: [algorithm],
        typ: 'at+jwt',
      })
      expect(protectedHeader.alg).toBe(algorithm)
    }
  })

  it('grants every scope the client may have unless asked for fewer', async () => {
    const all = decodeJwt((await as.token()).accessToken)
    expect(all.scope).toBe('orders:read orders:write')
  })

  it('holds a client to the scopes it was registered with', async () => {
    const reader = await as.token({ clientId: 'reader' })
    expect(decodeJwt(reader.accessToken)).toMatchObject({ sub: 'reader', scope: 'orders:read' })
    await expect(as.token({ clientId: 'reader', scope: 'orders:write' })).rejects.toMatchObject({
      status: 400,
      error: 'invalid_scope',
    })
  })

  it('issues a token with a lifetime of the caller’s choosing', async () => {
    const { accessToken, expiresIn } = await as.token({ expiresIn: 1 })
    const claims = decodeJwt(accessToken)
    expect(expiresIn).toBe(1)
    expect(claims.exp).toBe((claims.iat as number) + 1)
  })

  it('refuses an unknown resource and a wrong client secret', async () => {
    await expect(as.token({ resource: 'api://elsewhere' })).rejects.toMatchObject({ error: 'invalid_target' })
    const error = await as.token({ clientSecret: 'wrong' }).catch((thrown: unknown) => thrown)
    expect(error).toBeInstanceOf(TokenRequestError)
    expect(error).toMatchObject({ status: 401, error: 'invalid_client' })
  })

  it('issues opaque tokens that introspect as active', async () => {
    const { accessToken } = await as.token({ format: 'opaque', scope: 'orders:read' })
    expect(accessToken.split('.')).toHaveLength(1)
    const introspection = await as.introspect(accessToken)
    expect(introspection).toMatchObject({
      active: true,
      client_id: 'orders-client',
      iss: as.issuer,
      aud: 'api://orders',
      scope: 'orders:read',
      token_type: 'Bearer',
    })
    expect(await as.introspect('not-a-token')).toEqual({ active: false })
  })

  it('goes down on every path and comes back (an identity provider outage)', async () => {
    try {
      as.down()
      const discovery = await fetch(as.discoveryUri)
      expect({ status: discovery.status, retryAfter: discovery.headers.get('retry-after') }).toEqual({
        status: 503,
        retryAfter: '1',
      })
      expect((await fetch(as.jwksUri)).status).toBe(503)
      await expect(as.token({ scope: 'orders:read' })).rejects.toMatchObject({ status: 503 })
      as.down(true, 'reset')
      await expect(fetch(as.jwksUri)).rejects.toThrow()
    } finally {
      as.down(false)
    }
    expect((await fetch(as.jwksUri)).status).toBe(200)
    expect((await as.token({ scope: 'orders:read' })).tokenType).toBe('Bearer')
    expect(() => as.down(true, 'slow' as never)).toThrow(TypeError)
  })

  it('binds a token to the DPoP key of the proof it gets', async () => {
    const key = await generateSigningKey('ES256')
    const dpopProof = await createDpopProof(key, { method: 'POST', url: as.tokenEndpoint })
    const { accessToken, tokenType } = await as.token({ dpopProof })
    expect(tokenType).toBe('DPoP')
    expect(decodeJwt(accessToken).cnf).toEqual({ jkt: await jwkThumbprint(key) })
  })
})

describe('startAuthorizationServer with DPoP nonces', () => {
  let as: AuthorizationServer

  beforeAll(async () => {
    as = await startAuthorizationServer({ requireDpopNonce: true })
  })
  afterAll(() => as.close())

  it('asks for a nonce, then issues a token for a proof that carries it', async () => {
    const key = await generateSigningKey('ES256')
    const first = await createDpopProof(key, { method: 'POST', url: as.tokenEndpoint })
    const error = await as.token({ dpopProof: first }).catch((thrown: unknown) => thrown)
    expect(error).toMatchObject({ status: 400, error: 'use_dpop_nonce', dpopNonce: expect.any(String) })

    const nonce = (error as TokenRequestError).dpopNonce as string
    const second = await createDpopProof(key, { method: 'POST', url: as.tokenEndpoint, nonce })
    expect((await as.token({ dpopProof: second })).tokenType).toBe('DPoP')
  })
})

describe('startAuthorizationServer options', () => {
  it('rejects a resource algorithm it has no key for', async () => {
    await expect(
      startAuthorizationServer({ resources: [{ indicator: 'api://x', scope: 'x', algorithm: 'RS256' }] }),
    ).rejects.toThrow(TypeError)
  })

  it('signs with the resource’s own algorithm and audience', async () => {
    const as = await startAuthorizationServer({
      algorithms: ['ES256', 'PS256'],
      resources: [
        { indicator: 'https://api.example/', audience: 'payments', scope: 'pay', algorithm: 'PS256' },
      ],
    })
    try {
      const { accessToken } = await as.token()
      expect(decodeProtectedHeader(accessToken).alg).toBe('PS256')
      expect(decodeJwt(accessToken)).toMatchObject({ aud: 'payments', scope: 'pay' })
    } finally {
      await as.close()
    }
  })
})

describe('startAuthorizationServer with tls (issue 16)', () => {
  it('serves HTTPS, asks for client certificates, and lists tls_client_auth', async () => {
    const { createTestCa, issueSvid } = await import('./ca.js')
    const ca = await createTestCa({ trustDomain: 'prod.example.com' })
    const server = await issueSvid(ca, { spiffeId: 'spiffe://prod.example.com/idp', ips: ['127.0.0.1'] })
    const as = await startAuthorizationServer({
      clients: [
        { clientId: 'orders-client' },
        {
          clientId: 'checkout',
          authMethod: 'tls_client_auth',
          tlsClientAuthSanUri: 'spiffe://prod.example.com/checkout',
          certificateBoundAccessTokens: true,
        },
      ],
      tls: { cert: server.chain, key: server.key, ca: ca.bundle },
    })
    try {
      expect(as.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
      expect(as.tokenEndpoint.startsWith(as.issuer)).toBe(true)
      // The testkit's own requests trust the CA and authenticate with a secret.
      expect(await as.token({ clientId: 'orders-client' })).toMatchObject({ tokenType: 'Bearer' })
      await expect(as.token({ clientId: 'checkout' })).rejects.toThrow(TypeError)
      expect(as.clients[1]?.authMethod).toBe('tls_client_auth')
    } finally {
      await as.close()
    }
  })
})
