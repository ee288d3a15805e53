// Three real services on loopback (issue 17): the edge verifies the user's token and calls orders over
// mutual TLS with an internal token it minted; orders verifies that token (bound to the edge's
// certificate) and calls billing with one it minted in turn. Every hop is a real Express app with the
// zerotrust adapter, every call real mutual TLS with SVIDs of the testkit CA served through
// @zerotrust/workload's svidFiles and serverTls.

import { generateKeyPairSync } from 'node:crypto'
import { createServer as createHttpsServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { zeroTrustClient } from '@zerotrust/client'
import { type Auth, allOf, type DecisionEvent } from '@zerotrust/core'
import { authenticate, errorHandler } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { files, loadSecrets } from '@zerotrust/secrets'
import {
  type AuthorizationServer,
  signAccessToken,
  startAuthorizationServer,
  startHttpServer,
  type TestHttpServer,
} from '@zerotrust/testkit'
import { type SvidSource, serverTls, svidFiles, workloadIdentity } from '@zerotrust/workload'
import express, { type Request } from 'express'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { ClientSecretBasic } from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { actorChain } from '../src/actor-chain.js'
import { type InternalTokens, internalTokens } from '../src/internal-tokens.js'
import { maxActorDepth } from '../src/max-actor-depth.js'
import { tokenExchange } from '../src/token-exchange.js'
import { createPki, idOf, mtlsGet, type Pki, secretVolume, svidDirectory, trustDomain } from './fixtures.js'

const edgeIssuer = 'https://edge.internal/'
const ordersIssuer = 'https://orders.internal/'
const publicOrigin = 'https://api.example.com'

const signingKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string

type AuthedRequest = Request & { auth: Auth }

let pki: Pki
let as: AuthorizationServer
let downAs: AuthorizationServer
const cleanups: (() => unknown)[] = []
let edgeUrl: string
let ordersUrl: string
let billingUrl: string
let edgeTokens: InternalTokens
let volume: ReturnType<typeof secretVolume>
let edgeSecrets: Awaited<ReturnType<typeof loadEdgeSecrets>>

/** What billing received: every Authorization header and the Auth it saw. */
const billingSaw: { authorization: string | undefined; auth: Auth }[] = []
/** The internal tokens orders received from the edge. */
const ordersSaw: string[] = []
const ordersDecisions: DecisionEvent[] = []

function loadEdgeSecrets(directory: string) {
  return loadSecrets({
    schema: z.object({ EDGE_SIGNING_KEY: z.string().min(1) }),
    sources: [files({ directory, debounce: 10, pollInterval: 0 })],
  })
}

async function serveMtls(svid: SvidSource, app: express.Express): Promise<string> {
  const tls = serverTls(svid)
  const server: Server = tls.attach(createHttpsServer(tls, app))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function svidSource(svid: Pki['edge']): SvidSource {
  const directory = svidDirectory(svid, pki.bundle)
  const source = svidFiles({ dir: directory.dir })
  cleanups.push(() => source.close(), directory.remove)
  return source
}

async function listenHttp(app: express.Express): Promise<TestHttpServer> {
  const server = await startHttpServer(app)
  cleanups.push(() => server.close())
  return server
}

beforeAll(async () => {
  pki = await createPki()
  as = await startAuthorizationServer({
    resources: [{ indicator: 'api://edge', scope: 'orders:read orders:write billing:read profile' }],
    clients: [{ clientId: 'web' }],
  })
  downAs = await startAuthorizationServer({
    resources: [{ indicator: 'api://orders', scope: 'orders:read' }],
    clients: [{ clientId: 'edge', clientSecret: 'edge-secret-of-the-test' }],
    tokenExchange: { clients: [{ clientId: 'edge' }] },
  })
  cleanups.push(() => as.close())

  // billing: only orders may call it, with a token orders minted, at most two actors deep.
  const billingSvid = svidSource(pki.billing)
  const ordersJwks = express()
  const billing = express()
  billing.use(
    authenticate(
      allOf(
        workloadIdentity({ trustDomains: [trustDomain], ids: [idOf('orders')] }),
        maxActorDepth(
          jwtBearer({
            issuer: ordersIssuer,
            audience: 'api://billing',
            algorithms: ['ES256'],
            jwksUri: `${await jwksBase(ordersJwks)}/jwks`,
            http: { cooldown: 1000 },
          }),
          { maxDepth: 2 },
        ),
      ),
      { publicOrigin },
    ),
  )
  billing.get('/balance', (req, res) => {
    const auth = (req as AuthedRequest).auth
    billingSaw.push({ authorization: req.headers.authorization, auth })
    res.json({
      subject: auth.subject,
      scopes: auth.scopes,
      actors: actorChain(auth).map((actor) => actor.sub),
    })
  })
  billing.use(errorHandler())
  billingUrl = await serveMtls(billingSvid, billing)

  // orders: called by the edge only, with a token the edge minted and bound to its certificate.
  const ordersSvid = svidSource(pki.orders)
  // A fixed key: orders' rotation is not under test, the edge's is.
  const ordersKey = signingKey()
  const ordersTokens = internalTokens({
    issuer: ordersIssuer,
    keys: {
      current: () => ordersKey,
    },
    bindTo: ordersSvid,
    audiences: ['api://billing'],
  })
  ordersJwks.get('/jwks', (_req, res) => {
    res.json(ordersTokens.jwks())
  })
  const edgeJwks = express()
  const orders = express()
  orders.use(
    authenticate(
      allOf(
        workloadIdentity({ trustDomains: [trustDomain] }),
        maxActorDepth(
          jwtBearer({
            issuer: edgeIssuer,
            audience: 'api://orders',
            algorithms: ['ES256'],
            jwksUri: `${await jwksBase(edgeJwks)}/jwks`,
            http: { cooldown: 1000 },
          }),
          { maxDepth: 1 },
        ),
      ),
      { publicOrigin, onDecision: (event) => ordersDecisions.push(event) },
    ),
  )
  orders.get('/orders/:id', async (req, res) => {
    ordersSaw.push((req.headers.authorization ?? '').replace(/^Bearer /, ''))
    const auth = (req as AuthedRequest).auth
    const token = ordersTokens.mint(auth, { audience: 'api://billing', scope: 'billing:read' })
    const answer = await mtlsGet(`${billingUrl}/balance`, ordersSvid.current(), pki.bundle, {
      authorization: `Bearer ${token.value}`,
    })
    res
      .status(answer.status)
      .json({ order: req.params.id, scopes: auth.scopes, billing: JSON.parse(answer.body) })
  })
  orders.use(errorHandler())
  ordersUrl = await serveMtls(ordersSvid, orders)

  // edge: verifies the user's token; mints for orders with a key from a rotating secret volume.
  const edgeSvid = svidSource(pki.edge)
  volume = secretVolume({ EDGE_SIGNING_KEY: signingKey() })
  cleanups.push(volume.remove)
  edgeSecrets = await loadEdgeSecrets(volume.dir)
  cleanups.push(() => edgeSecrets.close())
  edgeTokens = internalTokens({ issuer: edgeIssuer, keys: edgeSecrets.EDGE_SIGNING_KEY, bindTo: edgeSvid })
  edgeJwks.get('/jwks', (_req, res) => {
    res.json(edgeTokens.jwks())
  })
  const downClient = tokenExchange({
    issuer: downAs.issuer,
    clientId: 'edge',
    auth: ClientSecretBasic('edge-secret-of-the-test'),
    tokenEndpoint: downAs.tokenEndpoint,
    timeout: 1000,
  })
  await downAs.close()
  const edge = express()
  edge.use(
    authenticate(
      jwtBearer({ issuer: as.issuer, audience: 'api://edge', algorithms: ['ES256'], jwksUri: as.jwksUri }),
      {
        publicOrigin,
      },
    ),
  )
  edge.get('/orders/:id', async (req, res) => {
    const auth = (req as AuthedRequest).auth
    const token = edgeTokens.mint(auth, { audience: 'api://orders', scope: 'orders:read billing:read' })
    const answer = await mtlsGet(`${ordersUrl}/orders/${req.params.id}`, edgeSvid.current(), pki.bundle, {
      authorization: `Bearer ${token.value}`,
    })
    res.status(answer.status).type('json').send(answer.body)
  })
  // The same call through @zerotrust/client: the SVID in mutual TLS, orders' SPIFFE ID checked, and the
  // token minted on behalf of the request's user.
  const ordersClient = zeroTrustClient({
    baseUrl: ordersUrl,
    tls: edgeSvid,
    expectPeer: idOf('orders'),
    onBehalfOf: { tokens: edgeTokens, audience: 'api://orders', scope: 'orders:read billing:read' },
  })
  cleanups.push(() => ordersClient.close())
  edge.get('/via-client/orders/:id', async (req, res) => {
    const answer = await ordersClient.fetch(`/orders/${req.params.id}`, {
      onBehalfOf: (req as AuthedRequest).auth,
    })
    res.status(answer.status).json(await answer.json())
  })
  edge.get('/exchanged/orders/:id', async (req, res) => {
    const userToken = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    const token = await downClient.exchange(userToken, { resource: 'api://orders', scope: 'orders:read' })
    const answer = await mtlsGet(`${ordersUrl}/orders/${req.params.id}`, edgeSvid.current(), pki.bundle, {
      authorization: `Bearer ${token.value}`,
    })
    res.status(answer.status).type('json').send(answer.body)
  })
  edge.use(errorHandler())
  edgeUrl = (await listenHttp(edge)).url
})

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

async function jwksBase(app: express.Express): Promise<string> {
  return (await listenHttp(app)).url
}

function userToken(sub = 'alice', scope = 'orders:read orders:write billing:read profile'): Promise<string> {
  return signAccessToken(as.keys[0] as never, {
    iss: as.issuer,
    sub,
    aud: 'api://edge',
    client_id: 'web',
    scope,
  })
}

async function callEdge(path: string, token: string) {
  const response = await fetch(`${edgeUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  }
}

describe('edge → orders → billing over mutual TLS (issue 17)', () => {
  it('carries the user inward on narrowed internal tokens; the user token never reaches billing', async () => {
    const token = await userToken()
    const before = billingSaw.length
    const answer = await callEdge('/orders/7', token)
    expect(answer.status).toBe(200)
    // orders saw the edge's token, narrowed to what the path needs.
    expect(answer.body.scopes).toEqual(['orders:read', 'billing:read'])
    expect(answer.body.billing).toEqual({
      subject: 'alice',
      scopes: ['billing:read'],
      actors: [idOf('orders'), idOf('edge')],
    })
    const seen = billingSaw.slice(before)
    expect(seen).toHaveLength(1)
    const received = (seen[0]?.authorization ?? '').replace(/^Bearer /, '')
    expect(received).not.toBe(token)
    expect(received).not.toContain(token.split('.')[2])
    expect(ordersSaw).not.toContain(token)
    // What billing received: orders' token, for billing alone, bound to orders' certificate.
    expect(decodeJwt(received)).toMatchObject({
      iss: ordersIssuer,
      aud: 'api://billing',
      sub: 'alice',
      client_id: 'web',
      original_iss: as.issuer,
      cnf: { 'x5t#S256': pki.orders.x5tS256 },
    })
    expect(seen[0]?.auth.workload?.id).toBe(idOf('orders'))
  })

  it('attaches the token minted on behalf of req.auth through @zerotrust/client (onBehalfOf)', async () => {
    const token = await userToken('grace')
    const answer = await callEdge('/via-client/orders/12', token)
    expect(answer.status).toBe(200)
    expect(answer.body.billing).toEqual({
      subject: 'grace',
      scopes: ['billing:read'],
      actors: [idOf('orders'), idOf('edge')],
    })
    const received = ordersSaw.at(-1) as string
    expect(received).not.toBe(token)
    expect(decodeJwt(received)).toMatchObject({
      iss: edgeIssuer,
      sub: 'grace',
      aud: 'api://orders',
      act: { sub: idOf('edge') },
    })
    // A user without the scope the call needs: the minter's 403 reaches the edge's answer, nothing is sent.
    const before = ordersSaw.length
    const refused = await callEdge('/via-client/orders/13', await userToken('heidi', 'orders:read'))
    expect({ status: refused.status, reason: refused.body.reason }).toEqual({
      status: 403,
      reason: 'scope_not_granted',
    })
    expect(ordersSaw.length).toBe(before)
  })

  it('refuses at the edge a call needing a scope the user lacks: 403, nothing sent inward', async () => {
    const before = { orders: ordersSaw.length, billing: billingSaw.length }
    const answer = await callEdge('/orders/8', await userToken('carol', 'orders:read'))
    expect({ status: answer.status, reason: answer.body.reason }).toEqual({
      status: 403,
      reason: 'scope_not_granted',
    })
    expect(ordersSaw.length).toBe(before.orders)
    expect(billingSaw.length).toBe(before.billing)
  })

  it('refuses an internal token replayed from another workload (cnf x5t#S256)', async () => {
    await callEdge('/orders/9', await userToken('dave'))
    const stolen = ordersSaw.at(-1) as string
    expect(decodeJwt(stolen).cnf).toEqual({ 'x5t#S256': pki.edge.x5tS256 })
    const replay = await mtlsGet(
      `${ordersUrl}/orders/9`,
      { certificate: pki.intruder.chain, key: pki.intruder.key },
      pki.bundle,
      {
        authorization: `Bearer ${stolen}`,
      },
    )
    expect(replay.status).toBe(401)
    expect(String(replay.headers['www-authenticate'])).toContain('error="invalid_token"')
    expect(JSON.parse(replay.body)).toMatchObject({ reason: 'certificate_mismatch' })
    expect(ordersDecisions.at(-1)).toMatchObject({
      outcome: 'deny',
      code: 'invalid_token',
      reason: 'certificate_mismatch',
    })
    // The same token from the edge's own certificate is accepted.
    const own = await mtlsGet(
      `${ordersUrl}/orders/9`,
      { certificate: pki.edge.chain, key: pki.edge.key },
      pki.bundle,
      {
        authorization: `Bearer ${stolen}`,
      },
    )
    expect(own.status).toBe(200)
  })

  it('refuses a token whose act chain is deeper than the service allows', async () => {
    // Orders allows one actor; a token minted by the edge for a user whose own token already names an
    // actor carries two.
    const token = await signAccessToken(as.keys[0] as never, {
      iss: as.issuer,
      sub: 'erin',
      aud: 'api://edge',
      client_id: 'web',
      scope: 'orders:read billing:read',
      act: { sub: 'spiffe://prod.example.com/ns/shop/sa/gateway' },
    })
    const answer = await callEdge('/orders/10', token)
    expect({ status: answer.status, reason: answer.body.reason }).toEqual({
      status: 401,
      reason: 'actor_chain_too_deep',
    })
  })

  it('rotates the edge key while traffic flows, without a failed request', async () => {
    const kids = new Set<string>()
    const statuses: number[] = []
    const rotated = (kid: string) =>
      new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 10_000
        const check = () => {
          if (edgeTokens.jwks().keys[0]?.kid !== kid) resolve()
          else if (Date.now() > deadline) reject(new Error('the key did not rotate'))
          else setTimeout(check, 20)
        }
        check()
      })
    for (let i = 0; i < 30; i++) {
      if (i === 10 || i === 20) {
        const kid = edgeTokens.jwks().keys[0]?.kid as string
        volume.write({ EDGE_SIGNING_KEY: signingKey() })
        await rotated(kid)
      }
      const token = await userToken(`user-${i}`)
      const answer = await callEdge(`/orders/${i}`, token)
      statuses.push(answer.status)
      kids.add(decodeProtectedHeader(ordersSaw.at(-1) as string).kid as string)
    }
    expect(statuses.every((status) => status === 200)).toBe(true)
    expect(kids.size).toBe(3)
    // The two replaced keys are still published beside the current one.
    expect(edgeTokens.jwks().keys).toHaveLength(3)
  }, 60_000)

  it('answers 503 with Retry-After at the edge when the token exchange is down, and sends nothing inward', async () => {
    const before = ordersSaw.length
    const response = await fetch(`${edgeUrl}/exchanged/orders/11`, {
      headers: { authorization: `Bearer ${await userToken('frank')}` },
    })
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('5')
    expect(((await response.json()) as { reason?: string }).reason).toBe('exchange_unavailable')
    expect(ordersSaw.length).toBe(before)
  })
})
