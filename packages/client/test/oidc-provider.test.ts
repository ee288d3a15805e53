// clientCredentials against the testkit's oidc-provider, calling real zerotrust-protected Express
// services: one token request for 200 concurrent callers (at start and after expiry), private_key_jwt with
// DPoP-bound tokens and nonces at the issuer and the service, tls_client_auth with certificate-bound tokens
// over mutual TLS (and a rotation of the SVID), an issuer outage (a still-valid token served, then a typed
// error), and no token, proof, secret or key in any error or event.
import type { Server } from 'node:https'
import { createServer as createHttpsServer } from 'node:https'
import { dpop } from '@zerotrust/dpop'
import { authenticate } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { startAuthorizationServer, startHttpServer, type TestHttpServer } from '@zerotrust/testkit'
import { createTestCa, issueSvid, type TestCa, type TestSvid } from '@zerotrust/testkit/ca'
import express from 'express'
import { calculateJwkThumbprint, exportJWK } from 'jose'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type ClientEvent,
  clientCredentials,
  clientSecretBasic,
  isOutboundError,
  privateKeyJwt,
  tlsClientAuth,
  zeroTrustClient,
} from '../src/index.js'
import { close, handSource, listen } from './fixtures.js'

const audience = 'api://orders'
const td = 'prod.example.com'
const ordersId = `spiffe://${td}/ns/shop/sa/orders`
const checkoutId = `spiffe://${td}/ns/shop/sa/checkout`

let ca: TestCa
let issuerSvid: TestSvid
let ordersSvid: TestSvid
let checkoutSvid: TestSvid

const cleanups: (() => Promise<void>)[] = []
/** Every event and error message of the file, searched for secrets at the end of each test. */
const said: string[] = []
const secrets: string[] = []

beforeAll(async () => {
  ca = await createTestCa({ trustDomain: td })
  issuerSvid = await issueSvid(ca, { spiffeId: `spiffe://${td}/idp`, ips: ['127.0.0.1'] })
  ordersSvid = await issueSvid(ca, { spiffeId: ordersId, ips: ['127.0.0.1'] })
  checkoutSvid = await issueSvid(ca, { spiffeId: checkoutId })
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  const text = said.splice(0).join('\n')
  for (const secret of secrets.splice(0)) expect(text).not.toContain(secret)
  expect(text).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/)
  expect(text).not.toContain('PRIVATE KEY')
})

function record(event: ClientEvent): void {
  said.push(JSON.stringify(event))
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    said.push(String(error), (error as Error).stack ?? '', JSON.stringify(error))
    return error
  }
  throw new Error('expected a rejection')
}

async function authorizationServer(options: Parameters<typeof startAuthorizationServer>[0]) {
  const as = await startAuthorizationServer(options)
  cleanups.push(() => as.close())
  let issued = 0
  as.provider.on('grant.success', () => {
    issued++
  })
  // Every token the issuer hands out is a secret the file must never say.
  as.provider.on('access_token.issued', (token: { jti?: string }) => {
    if (token.jti) secrets.push(token.jti)
  })
  return { as, issued: () => issued }
}

/** An Express service over plain HTTP that answers with who called. */
async function service(layer: Parameters<typeof authenticate>[0]): Promise<TestHttpServer> {
  let origin = ''
  const app = express()
  let guard: express.RequestHandler | undefined
  app.use((req, res, next) => {
    guard ??= authenticate(layer, { publicOrigin: origin })
    guard(req, res, next)
  })
  app.get('/orders', (req, res) => {
    res.json({ clientId: req.auth?.clientId, scheme: req.auth?.scheme })
  })
  const server = await startHttpServer(app)
  origin = server.url
  cleanups.push(() => server.close())
  return server
}

// Real servers and waits past token lifetimes on a loaded machine: generous bounds.
describe('clientCredentials with oidc-provider (issue 16)', { timeout: 30_000 }, () => {
  it('makes one token request for 200 concurrent callers, and one again after the token expired', async () => {
    const { as, issued } = await authorizationServer({
      resources: [{ indicator: audience, scope: 'orders:read', accessTokenTtl: 2 }],
      clients: [{ clientId: 'checkout' }],
    })
    const client = as.clients[0]
    if (client === undefined) throw new Error('no client')
    secrets.push(client.clientSecret)
    const api = await service(jwtBearer({ issuer: as.issuer, audience, algorithms: ['ES256'] }))
    const tokens = clientCredentials({
      issuer: as.issuer,
      clientId: client.clientId,
      auth: clientSecretBasic(client.clientSecret),
      resource: audience,
      scope: 'orders:read',
      refreshBefore: 500,
      refreshJitter: 0,
      onEvent: record,
    })
    const orders = zeroTrustClient({ baseUrl: api.url, tokens, onEvent: record })
    cleanups.push(() => Promise.all([orders.close(), tokens.close()]).then(() => {}))
    const burst = () => Promise.all(Array.from({ length: 200 }, () => orders.fetch('/orders')))
    const first = await burst()
    expect(first.every((res) => res.status === 200)).toBe(true)
    expect(issued()).toBe(1)
    // Past its expiry (2 s): the next burst waits for one new token.
    await new Promise((resolve) => setTimeout(resolve, 2100))
    const second = await burst()
    expect(second.every((res) => res.status === 200)).toBe(true)
    expect(issued()).toBe(2)
    expect(await first[0]?.json()).toEqual({ clientId: 'checkout', scheme: 'Bearer' })
  })

  it('serves a still-valid token while the issuer is down, then fails with a typed 503', async () => {
    const { as, issued } = await authorizationServer({
      resources: [{ indicator: audience, scope: 'orders:read', accessTokenTtl: 3 }],
      clients: [{ clientId: 'checkout' }],
    })
    const client = as.clients[0]
    if (client === undefined) throw new Error('no client')
    secrets.push(client.clientSecret)
    const api = await service(jwtBearer({ issuer: as.issuer, audience, algorithms: ['ES256'] }))
    const events: ClientEvent[] = []
    const tokens = clientCredentials({
      issuer: as.issuer,
      clientId: client.clientId,
      auth: clientSecretBasic(client.clientSecret),
      resource: audience,
      refreshBefore: 2000,
      refreshJitter: 0,
      timeout: 2000,
      onEvent: (e) => {
        events.push(e)
        record(e)
      },
    })
    const orders = zeroTrustClient({ baseUrl: api.url, tokens, retry: false, onEvent: record })
    cleanups.push(() => Promise.all([orders.close(), tokens.close()]).then(() => {}))
    expect((await orders.fetch('/orders')).status).toBe(200)
    await as.close()
    // Due for a refresh (1.5 s after issue: at most half its life early), which fails: the token, valid
    // for 1.3 s more, is still used.
    await new Promise((resolve) => setTimeout(resolve, 1700))
    expect((await orders.fetch('/orders')).status).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(events.map((e) => [e.outcome, e.reason])).toEqual([
      ['allow', undefined],
      ['error', 'token_unavailable'],
    ])
    expect(issued()).toBe(1)
    // Past its expiry, with the issuer still down: a typed error, never a call without a token.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const error = await caught(orders.fetch('/orders'))
    expect(isOutboundError(error) && [error.code, error.status, error.reason]).toEqual([
      'dependency_unavailable',
      503,
      'token_unavailable',
    ])
  })

  it('refuses a client the issuer does not accept with a typed error, without its secret', async () => {
    const { as } = await authorizationServer({ clients: [{ clientId: 'checkout' }] })
    const wrong = 'not-the-registered-secret'
    secrets.push(wrong)
    const tokens = clientCredentials({
      issuer: as.issuer,
      clientId: 'checkout',
      auth: clientSecretBasic(wrong),
      resource: audience,
      onEvent: record,
    })
    cleanups.push(() => tokens.close())
    const error = await caught(tokens.token())
    expect(isOutboundError(error) && [error.code, error.reason, error.upstream?.status]).toEqual([
      'internal_error',
      'token_refused',
      401,
    ])
    // RFC 6749 §5.2: a 401 names the error in its challenge.
    expect(isOutboundError(error) && error.upstream?.challenges[0]?.params.error).toBe('invalid_client')
  })

  it('gets DPoP-bound tokens with private_key_jwt, retrying once on the issuer and the service nonces', async () => {
    const clientKey = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    const publicJwk = {
      ...(await exportJWK(clientKey.publicKey)),
      kid: 'checkout-1',
      alg: 'ES256',
      use: 'sig',
    }
    const { as, issued } = await authorizationServer({
      resources: [{ indicator: audience, scope: 'orders:read' }],
      clients: [
        {
          clientId: 'checkout',
          authMethod: 'private_key_jwt',
          jwks: { keys: [publicJwk] },
          dpopBoundAccessTokens: true,
        },
      ],
      requireDpopNonce: true,
    })
    const api = await service(
      dpop(jwtBearer({ issuer: as.issuer, audience, algorithms: ['ES256'] }), {
        required: true,
        nonce: { secret: 'a-nonce-secret-of-at-least-32-bytes!!' },
      }),
    )
    const dpopKey = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    const tokenEvents: ClientEvent[] = []
    const callEvents: ClientEvent[] = []
    const tokens = clientCredentials({
      issuer: as.issuer,
      clientId: 'checkout',
      auth: privateKeyJwt(clientKey.privateKey, { kid: 'checkout-1' }),
      resource: audience,
      onEvent: (e) => {
        tokenEvents.push(e)
        record(e)
      },
    })
    const orders = zeroTrustClient({
      baseUrl: api.url,
      tokens,
      dpop: { key: dpopKey },
      onEvent: (e) => {
        callEvents.push(e)
        record(e)
      },
    })
    cleanups.push(() => Promise.all([orders.close(), tokens.close()]).then(() => {}))
    const res = await orders.fetch('/orders')
    expect(await res.json()).toEqual({ clientId: 'checkout', scheme: 'DPoP' })
    expect(tokenEvents.map((e) => [e.attempt, e.outcome, e.code])).toEqual([
      [1, 'deny', 'use_dpop_nonce'],
      [2, 'allow', 'ok'],
    ])
    expect(callEvents.map((e) => [e.attempt, e.status])).toEqual([
      [1, 401],
      [2, 200],
    ])
    expect(issued()).toBe(1)
    // The cached token is bound to the DPoP key: sent without a proof, the service refuses it.
    const jkt = await calculateJwkThumbprint(await exportJWK(dpopKey.publicKey))
    const token = await tokens.token({ dpop: { keyPair: dpopKey, jkt } })
    expect(token.type).toBe('DPoP')
    expect(issued()).toBe(1)
    const bare = await fetch(`${api.url}/orders`, { headers: { authorization: `Bearer ${token.value}` } })
    expect(bare.status).toBe(401)
    secrets.push(token.value)
  })

  it('authenticates with tls_client_auth and gets certificate-bound tokens, again after an SVID rotation', async () => {
    const { as, issued } = await authorizationServer({
      resources: [{ indicator: audience, scope: 'orders:read' }],
      clients: [
        {
          clientId: 'checkout',
          authMethod: 'tls_client_auth',
          tlsClientAuthSanUri: checkoutId,
          certificateBoundAccessTokens: true,
        },
      ],
      tls: { cert: issuerSvid.chain, key: issuerSvid.key, ca: ca.bundle },
    })
    // The orders service over mutual TLS; jwtBearer checks cnf.x5t#S256 against the client certificate.
    let origin = ''
    const app = express()
    let guard: express.RequestHandler | undefined
    app.use((req, res, next) => {
      guard ??= authenticate(
        jwtBearer({ issuer: as.issuer, audience, algorithms: ['ES256'], jwks: as.jwks }),
        {
          publicOrigin: origin,
        },
      )
      guard(req, res, next)
    })
    app.get('/orders', (req, res) => {
      res.json({ clientId: req.auth?.clientId, bound: req.auth?.cnf?.['x5t#S256'] !== undefined })
    })
    const server: Server = createHttpsServer(
      {
        cert: ordersSvid.chain,
        key: ordersSvid.key,
        ca: ca.bundle,
        requestCert: true,
        rejectUnauthorized: true,
      },
      app,
    )
    origin = await listen(server)
    cleanups.push(() => close(server))
    const source = handSource(checkoutSvid)
    const tokens = clientCredentials({
      issuer: as.issuer,
      clientId: 'checkout',
      auth: tlsClientAuth(),
      tls: source,
      issuerCa: ca.bundle,
      resource: audience,
      onEvent: record,
    })
    const events: ClientEvent[] = []
    const orders = zeroTrustClient({
      baseUrl: origin,
      tls: source,
      expectPeer: ordersId,
      tokens,
      onEvent: (e) => {
        events.push(e)
        record(e)
      },
    })
    cleanups.push(() => Promise.all([orders.close(), tokens.close()]).then(() => {}))
    expect(await (await orders.fetch('/orders')).json()).toEqual({ clientId: 'checkout', bound: true })
    source.rotate(await issueSvid(ca, { spiffeId: checkoutId }))
    const after = await Promise.all(Array.from({ length: 20 }, () => orders.fetch('/orders')))
    expect(after.every((res) => res.status === 200)).toBe(true)
    // The token bound to the old certificate was dropped with it: one new token, no refused call.
    expect(issued()).toBe(2)
    expect(events.every((e) => e.outcome === 'allow')).toBe(true)
  })
})
