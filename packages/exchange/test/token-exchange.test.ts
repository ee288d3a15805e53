import { isZeroTrustError, type RequestLike, type ZeroTrustError } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import {
  type AuthorizationServer,
  generateSigningKey,
  signAccessToken,
  startAuthorizationServer,
} from '@zerotrust/testkit'
import { decodeJwt } from 'jose'
import { ClientSecretBasic } from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tokenExchange } from '../src/token-exchange.js'

let as: AuthorizationServer

beforeAll(async () => {
  as = await startAuthorizationServer({
    resources: [
      { indicator: 'api://edge', scope: 'orders:read orders:write billing:read' },
      { indicator: 'api://orders', scope: 'orders:read orders:write' },
      { indicator: 'api://billing', scope: 'billing:read' },
      { indicator: 'api://admin', scope: 'admin' },
    ],
    clients: [{ clientId: 'edge' }, { clientId: 'web' }],
    tokenExchange: { clients: [{ clientId: 'edge', resources: ['api://orders', 'api://billing'] }] },
  })
})

afterAll(async () => {
  await as?.close()
})

function userToken(claims: Record<string, unknown> = {}): Promise<string> {
  return signAccessToken(as.keys[0] as never, {
    iss: as.issuer,
    sub: 'alice',
    aud: 'api://edge',
    client_id: 'web',
    scope: 'orders:read orders:write billing:read',
    ...claims,
  })
}

function edge(options: { issuer?: string; secret?: string } = {}) {
  const client = as.clients.find((c) => c.clientId === 'edge')
  return tokenExchange({
    issuer: options.issuer ?? as.issuer,
    clientId: 'edge',
    auth: ClientSecretBasic(options.secret ?? (client?.clientSecret as string)),
    timeout: 2000,
  })
}

function bearer(token: string): RequestLike {
  return {
    method: 'GET',
    origin: 'https://orders.internal',
    target: '/',
    path: '/',
    headerValues: (name) => (name.toLowerCase() === 'authorization' ? [`Bearer ${token}`] : []),
  }
}

async function refusal(promise: Promise<unknown>): Promise<ZeroTrustError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isZeroTrustError(error)) throw new Error(`expected a ZeroTrustError, got ${String(error)}`)
  return error
}

describe('tokenExchange against oidc-provider (RFC 8693)', () => {
  it('exchanges the user token for one audience, narrowed, with act naming the edge (issue 17)', async () => {
    const subject = await userToken()
    const token = await edge().exchange(subject, { resource: 'api://orders', scope: 'orders:read' })
    expect(token.value).not.toBe(subject)
    expect(token.scopes).toEqual(['orders:read'])
    const orders = jwtBearer({
      issuer: as.issuer,
      audience: 'api://orders',
      algorithms: ['ES256'],
      jwksUri: as.jwksUri,
    })
    const auth = await orders.authenticate(bearer(token.value))
    expect(auth.subject).toBe('alice')
    expect(auth.scopes).toEqual(['orders:read'])
    expect(auth.claims.act).toEqual({ sub: 'edge' })
    expect(auth.expiresAt).toBeLessThanOrEqual(decodeJwt(subject).exp as number)
  })

  it('narrows to the subject token and the target when no scope is asked', async () => {
    const token = await edge().exchange(await userToken(), { resource: 'api://billing' })
    expect(decodeJwt(token.value)).toMatchObject({ aud: 'api://billing', scope: 'billing:read' })
  })

  it('refuses a scope wider than the subject token: 403 insufficient_scope', async () => {
    const subject = await userToken({ scope: 'orders:read' })
    const error = await refusal(
      edge().exchange(subject, { resource: 'api://orders', scope: 'orders:read orders:write' }),
    )
    expect({ code: error.code, status: error.status, reason: error.reason }).toEqual({
      code: 'insufficient_scope',
      status: 403,
      reason: 'scope_not_granted',
    })
  })

  it('refuses an audience outside the policy, a forged subject token, a may_act for someone else', async () => {
    const exchange = edge()
    const admin = await refusal(exchange.exchange(await userToken(), { resource: 'api://admin' }))
    expect({ code: admin.code, status: admin.status, reason: admin.reason }).toEqual({
      code: 'access_denied',
      status: 403,
      reason: 'exchange_refused',
    })
    const stranger = await generateSigningKey('ES256')
    const forged = await signAccessToken(stranger, {
      iss: as.issuer,
      sub: 'mallory',
      aud: 'api://edge',
      scope: 'orders:read',
    })
    expect((await refusal(exchange.exchange(forged, { resource: 'api://orders' }))).reason).toBe(
      'exchange_refused',
    )
    const notEdge = await userToken({ may_act: { sub: 'someone-else' } })
    expect((await refusal(exchange.exchange(notEdge, { resource: 'api://orders' }))).reason).toBe(
      'exchange_refused',
    )
    const mayAct = await userToken({ may_act: { sub: 'edge' } })
    await expect(exchange.exchange(mayAct, { resource: 'api://orders' })).resolves.toMatchObject({
      type: 'Bearer',
    })
  })

  it('refuses a client not allowed the grant', async () => {
    const web = as.clients.find((c) => c.clientId === 'web')
    const exchange = tokenExchange({
      issuer: as.issuer,
      clientId: 'web',
      auth: ClientSecretBasic(web?.clientSecret as string),
    })
    const error = await refusal(exchange.exchange(await userToken(), { resource: 'api://orders' }))
    expect({ code: error.code, reason: error.reason }).toEqual({
      code: 'access_denied',
      reason: 'exchange_refused',
    })
  })

  it('caches per subject token, audience and scope, and coalesces concurrent exchanges', async () => {
    let grants = 0
    const count = () => {
      grants += 1
    }
    as.provider.on('grant.success', count)
    try {
      const exchange = edge()
      const subject = await userToken()
      const tokens = await Promise.all(
        Array.from({ length: 50 }, () =>
          exchange.exchange(subject, { resource: 'api://orders', scope: 'orders:read' }),
        ),
      )
      expect(new Set(tokens).size).toBe(1)
      expect(grants).toBe(1)
      await exchange.exchange(subject, { resource: 'api://orders', scope: 'orders:read' })
      expect(grants).toBe(1)
      await exchange.exchange(subject, { resource: 'api://orders', scope: 'orders:write' })
      await exchange.exchange(await userToken({ sub: 'bob' }), {
        resource: 'api://orders',
        scope: 'orders:read',
      })
      expect(grants).toBe(3)
    } finally {
      as.provider.off('grant.success', count)
    }
  })

  it('answers 503 exchange_unavailable with Retry-After when the authorization server is down', async () => {
    const down = await startAuthorizationServer({
      clients: [{ clientId: 'edge', clientSecret: 'edge-secret-edge-secret' }],
      tokenExchange: { clients: [{ clientId: 'edge' }] },
    })
    const exchange = tokenExchange({
      issuer: down.issuer,
      clientId: 'edge',
      auth: ClientSecretBasic('edge-secret-edge-secret'),
      tokenEndpoint: down.tokenEndpoint,
      timeout: 1000,
    })
    await down.close()
    const error = await refusal(exchange.exchange(await userToken(), { resource: 'api://orders' }))
    expect({
      code: error.code,
      status: error.status,
      reason: error.reason,
      retryAfter: error.retryAfter,
    }).toEqual({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'exchange_unavailable',
      retryAfter: 5,
    })
    // Nothing of the subject token in the message.
    expect(error.message).not.toContain('ey')
  })

  it('names the option at fault', () => {
    expect(() =>
      tokenExchange({ issuer: 'http://idp.example.com/', clientId: 'edge', auth: ClientSecretBasic('s') }),
    ).toThrow('tokenExchange: "issuer" option must be an https URL (plain http only on loopback)')
    expect(() => tokenExchange({ issuer: as.issuer, clientId: 'edge', auth: 'secret' as never })).toThrow(
      'tokenExchange: "auth" option must be an oauth4webapi client authentication',
    )
  })
})
