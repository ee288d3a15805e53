// End to end against a real OAuth authorization server (oidc-provider on loopback): discovery, JWKS and
// RFC 9068 tokens as a production identity provider serves them.
import { createDpopProof, generateSigningKey, startAuthorizationServer } from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jwtBearer } from '../src/index.js'
import { bearer } from './fixtures.js'

let as: Awaited<ReturnType<typeof startAuthorizationServer>>

beforeAll(async () => {
  as = await startAuthorizationServer({
    algorithms: ['ES256', 'RS256', 'EdDSA'],
    resources: [
      { indicator: 'api://orders', scope: 'orders:read orders:write' },
      { indicator: 'api://billing', scope: 'billing:read' },
    ],
    clients: [{ clientId: 'orders-client' }],
  })
})

afterAll(() => as.close())

const tokens = () =>
  jwtBearer({ issuer: as.issuer, audience: 'api://orders', algorithms: ['ES256', 'RS256', 'EdDSA'] })

describe('jwtBearer with oidc-provider as the issuer', () => {
  it.each(['ES256', 'RS256', 'EdDSA'] as const)(
    'verifies a %s access token found through discovery',
    async (alg) => {
      const { accessToken } = await as.token({
        scope: 'orders:read',
        resource: 'api://orders',
        algorithm: alg,
      })
      const auth = await tokens().authenticate(bearer(accessToken))
      expect(auth).toMatchObject({
        issuer: as.issuer,
        audience: ['api://orders'],
        clientId: 'orders-client',
        subject: 'orders-client',
        scopes: ['orders:read'],
        format: 'jwt',
      })
    },
  )

  it('rejects a token issued for another resource server', async () => {
    const { accessToken } = await as.token({ scope: 'billing:read', resource: 'api://billing' })
    await expect(Promise.resolve(tokens().authenticate(bearer(accessToken)))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'claim:aud',
    })
  })

  it('rejects an opaque token as malformed (it is for introspection, not for local verification)', async () => {
    const { accessToken } = await as.token({
      scope: 'orders:read',
      resource: 'api://orders',
      format: 'opaque',
    })
    const verifier = tokens()
    expect(verifier.accepts?.(bearer(accessToken))).toBe(false)
    await expect(Promise.resolve(verifier.authenticate(bearer(accessToken)))).rejects.toMatchObject({
      code: 'invalid_token',
    })
  })

  it('rejects a DPoP-bound token presented as a bearer token (RFC 9449 §7.2)', async () => {
    const key = await generateSigningKey('ES256')
    const proof = await createDpopProof(key, { method: 'POST', url: as.tokenEndpoint })
    const { accessToken, tokenType } = await as.token({
      scope: 'orders:read',
      resource: 'api://orders',
      dpopProof: proof,
    })
    expect(tokenType).toBe('DPoP')
    await expect(Promise.resolve(tokens().authenticate(bearer(accessToken)))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'dpop_bound',
    })
  })
})
