// onBehalfOf through RFC 8693 exchange, end to end (issue 17): an inbound request authenticated by
// jwtBearer on a real Express server; its handler calls orders through @zerotrust/client with
// `onBehalfOf: req.auth` and tokenExchange as the minter; oidc-provider performs the exchange. What
// orders received is asserted: the exchanged token, never the user's.
import { zeroTrustClient } from '@zerotrust/client'
import type { Auth } from '@zerotrust/core'
import { authenticate, errorHandler } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import {
  type AuthorizationServer,
  signAccessToken,
  startAuthorizationServer,
  startHttpServer,
} from '@zerotrust/testkit'
import express, { type Request } from 'express'
import { ClientSecretBasic } from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TokenExchange, tokenExchange } from '../src/token-exchange.js'

type AuthedRequest = Request & { auth: Auth }

const publicOrigin = 'https://api.example.com'
let as: AuthorizationServer
let edgeUrl: string
let downEdgeUrl: string
let exchange: TokenExchange
const cleanups: (() => unknown)[] = []
/** What orders received: the Authorization header and the Auth it verified. */
const ordersSaw: { authorization: string | undefined; auth: Auth }[] = []

beforeAll(async () => {
  as = await startAuthorizationServer({
    resources: [
      { indicator: 'api://edge', scope: 'orders:read orders:write' },
      { indicator: 'api://orders', scope: 'orders:read orders:write' },
    ],
    clients: [{ clientId: 'edge' }, { clientId: 'web' }],
    tokenExchange: { clients: [{ clientId: 'edge', resources: ['api://orders'] }] },
  })
  cleanups.push(() => as.close())
  const edgeSecret = as.clients.find((c) => c.clientId === 'edge')?.clientSecret as string

  const orders = express()
  orders.use(
    authenticate(
      jwtBearer({ issuer: as.issuer, audience: 'api://orders', algorithms: ['ES256'], jwksUri: as.jwksUri }),
      { publicOrigin },
    ),
  )
  orders.get('/orders', (req, res) => {
    const auth = (req as AuthedRequest).auth
    ordersSaw.push({ authorization: req.headers.authorization, auth })
    res.json({ sub: auth.subject, act: auth.claims.act, scopes: auth.scopes })
  })
  orders.use(errorHandler())
  const ordersServer = await startHttpServer(orders)
  cleanups.push(() => ordersServer.close())

  /** An edge whose handler calls orders on behalf of the request's user, exchanging through `minter`. */
  async function edge(minter: TokenExchange): Promise<string> {
    const client = zeroTrustClient({
      baseUrl: ordersServer.url,
      onBehalfOf: { tokens: minter, audience: 'api://orders', scope: 'orders:read' },
      retry: false,
    })
    cleanups.push(() => client.close())
    const app = express()
    app.use(
      authenticate(
        jwtBearer({ issuer: as.issuer, audience: 'api://edge', algorithms: ['ES256'], jwksUri: as.jwksUri }),
        { publicOrigin },
      ),
    )
    app.get('/orders', async (req, res) => {
      const answer = await client.fetch('/orders', { onBehalfOf: (req as AuthedRequest).auth })
      res.status(answer.status).json(await answer.json())
    })
    app.use(errorHandler())
    const server = await startHttpServer(app)
    cleanups.push(() => server.close())
    return server.url
  }

  exchange = tokenExchange({
    issuer: as.issuer,
    clientId: 'edge',
    auth: ClientSecretBasic(edgeSecret),
    timeout: 5000,
  })
  cleanups.push(() => exchange.close())
  edgeUrl = await edge(exchange)

  // An edge whose authorization server is down: its exchange fails, nothing goes inward.
  const down = await startAuthorizationServer({
    clients: [{ clientId: 'edge', clientSecret: 'edge-secret-edge-secret' }],
    tokenExchange: { clients: [{ clientId: 'edge' }] },
  })
  const downExchange = tokenExchange({
    issuer: down.issuer,
    clientId: 'edge',
    auth: ClientSecretBasic('edge-secret-edge-secret'),
    tokenEndpoint: down.tokenEndpoint,
    timeout: 1000,
  })
  await down.close()
  downEdgeUrl = await edge(downExchange)
})

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

const userToken = (claims: Record<string, unknown> = {}) =>
  signAccessToken(as.keys[0] as never, {
    iss: as.issuer,
    sub: 'alice',
    aud: 'api://edge',
    client_id: 'web',
    scope: 'orders:read orders:write',
    ...claims,
  })

function countGrants(): { count(): number; stop(): void } {
  let grants = 0
  const listener = () => {
    grants += 1
  }
  as.provider.on('grant.success', listener)
  return { count: () => grants, stop: () => as.provider.off('grant.success', listener) }
}

describe('onBehalfOf with tokenExchange, end to end (issue 17)', () => {
  it("sends orders an exchanged token whose sub is the user and act names the edge, never the user's", async () => {
    const subject = await userToken()
    const seen = ordersSaw.length
    const answer = await fetch(`${edgeUrl}/orders`, { headers: { authorization: `Bearer ${subject}` } })
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ sub: 'alice', act: { sub: 'edge' }, scopes: ['orders:read'] })
    const received = ordersSaw.slice(seen)
    expect(received).toHaveLength(1)
    expect(received[0]?.authorization).toMatch(/^Bearer /)
    expect(received[0]?.authorization).not.toContain(subject)
    expect(received[0]?.auth).toMatchObject({
      issuer: as.issuer,
      audience: ['api://orders'],
      clientId: 'edge',
    })
  })

  it('exchanges once per user token however many requests carry it, and again for another user', async () => {
    const grants = countGrants()
    try {
      const subject = await userToken({ sub: 'carol' })
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${edgeUrl}/orders`, { headers: { authorization: `Bearer ${subject}` } }),
        ),
      )
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 200))
      expect(grants.count()).toBe(1)
      const dave = await fetch(`${edgeUrl}/orders`, {
        headers: { authorization: `Bearer ${await userToken({ sub: 'dave' })}` },
      })
      expect(((await dave.json()) as { sub: string }).sub).toBe('dave')
      expect(grants.count()).toBe(2)
    } finally {
      grants.stop()
    }
  })

  it('answers 403 when the user lacks the scope the call needs, asking nobody', async () => {
    const grants = countGrants()
    const seen = ordersSaw.length
    try {
      const subject = await userToken({ scope: 'orders:write' })
      const answer = await fetch(`${edgeUrl}/orders`, { headers: { authorization: `Bearer ${subject}` } })
      expect(answer.status).toBe(403)
      expect(await answer.json()).toMatchObject({ code: 'insufficient_scope', reason: 'scope_not_granted' })
      expect(grants.count()).toBe(0)
      expect(ordersSaw.length).toBe(seen)
    } finally {
      grants.stop()
    }
  })

  it('answers 503 with Retry-After when the authorization server is down, and sends nothing inward', async () => {
    const seen = ordersSaw.length
    const answer = await fetch(`${downEdgeUrl}/orders`, {
      headers: { authorization: `Bearer ${await userToken()}` },
    })
    expect({ status: answer.status, retryAfter: answer.headers.get('retry-after') }).toEqual({
      status: 503,
      retryAfter: '5',
    })
    expect(await answer.json()).toMatchObject({
      code: 'dependency_unavailable',
      reason: 'exchange_unavailable',
    })
    expect(ordersSaw.length).toBe(seen)
  })
})
