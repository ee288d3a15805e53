// End to end: oidc-provider issues DPoP-bound access tokens to clients that make their proofs with the
// `dpop` package and with oauth4webapi; an Express service checks them with dpop(jwtBearer) and
// dpop(introspection). Everything runs for real on 127.0.0.1.
import { authenticate } from '@zerotrust/express'
import { introspection } from '@zerotrust/introspection'
import { jwtBearer } from '@zerotrust/jwt'
import {
  type AuthorizationServer,
  startAuthorizationServer,
  startHttpServer,
  type TestHttpServer,
} from '@zerotrust/testkit'
import { generateKeyPair, generateProof } from 'dpop'
import express, { type RequestHandler } from 'express'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dpop } from '../src/index.js'

const audience = 'api://orders'

let as: AuthorizationServer
let service: TestHttpServer
let origin: string
const mounted: Record<string, RequestHandler> = {}

beforeAll(async () => {
  as = await startAuthorizationServer({
    resources: [
      { indicator: audience, scope: 'orders:read', format: 'jwt' },
      { indicator: 'api://ledger', scope: 'ledger:read', format: 'opaque' },
    ],
    clients: [{ clientId: 'orders-client' }, { clientId: 'ledger-api' }],
  })
  const app = express()
  // The authenticators need the service's public origin, known once it listens.
  app.use('/jwt', (req, res, next) => (mounted.jwt as RequestHandler)(req, res, next))
  app.use('/opaque', (req, res, next) => (mounted.opaque as RequestHandler)(req, res, next))
  app.get(['/jwt/orders', '/opaque/ledger'], (req, res) => {
    res.json({
      subject: req.auth?.subject ?? null,
      clientId: req.auth?.clientId,
      scheme: req.auth?.scheme,
      format: req.auth?.format,
    })
  })
  service = await startHttpServer(app)
  origin = `http://127.0.0.1:${service.port}`
  const ledger = as.clients[1]
  if (ledger === undefined) throw new Error('no ledger client')
  mounted.jwt = authenticate(
    dpop(jwtBearer({ issuer: as.issuer, audience, algorithms: ['ES256'] }), { required: true }),
    {
      publicOrigin: origin,
    },
  )
  mounted.opaque = authenticate(
    dpop(
      introspection({
        issuer: as.issuer,
        audience: 'api://ledger',
        clientId: ledger.clientId,
        clientAuthentication: { method: 'client_secret_basic', secret: ledger.clientSecret },
      }),
      { required: true },
    ),
    { publicOrigin: origin },
  )
})
afterAll(async () => {
  await service?.close()
  await as?.close()
})

describe('dpop() with oidc-provider end to end', () => {
  it('accepts a JWT access token bound by a client using the dpop package, and refuses its replay', async () => {
    const keypair = await generateKeyPair('ES256')
    const tokenProof = await generateProof(keypair, as.tokenEndpoint, 'POST')
    const { accessToken, tokenType } = await as.token({
      scope: 'orders:read',
      resource: audience,
      dpopProof: tokenProof,
    })
    expect(tokenType).toBe('DPoP')

    const target = `${origin}/jwt/orders`
    const proof = await generateProof(keypair, target, 'GET', undefined, accessToken)
    const headers = { authorization: `DPoP ${accessToken}`, dpop: proof }
    const response = await fetch(target, { headers })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ scheme: 'DPoP', format: 'jwt', clientId: 'orders-client' })

    const replay = await fetch(target, { headers })
    expect(replay.status).toBe(401)
    expect(replay.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/)

    // Another client's key cannot use the token.
    const thief = await generateKeyPair('ES256')
    const stolen = await fetch(target, {
      headers: {
        authorization: `DPoP ${accessToken}`,
        dpop: await generateProof(thief, target, 'GET', undefined, accessToken),
      },
    })
    expect(stolen.status).toBe(401)
    expect(((await stolen.json()) as { reason: string }).reason).toBe('key_mismatch')
  })

  it('accepts an opaque DPoP-bound token, introspected, from an oauth4webapi client', async () => {
    const server: oauth.AuthorizationServer = {
      issuer: as.issuer,
      token_endpoint: as.tokenEndpoint,
    }
    const client = as.clients[0]
    if (client === undefined) throw new Error('no client')
    const keyPair = await oauth.generateKeyPair('ES256')
    const oauthClient: oauth.Client = { client_id: client.clientId }
    const handle = oauth.DPoP(oauthClient, keyPair)
    const grant = () =>
      oauth.clientCredentialsGrantRequest(
        server,
        { client_id: client.clientId },
        oauth.ClientSecretBasic(client.clientSecret),
        new URLSearchParams({ scope: 'ledger:read', resource: 'api://ledger' }),
        { DPoP: handle, [oauth.allowInsecureRequests]: true },
      )
    const tokens = await oauth.processClientCredentialsResponse(
      server,
      { client_id: client.clientId },
      await grant(),
    )
    expect(tokens.token_type).toBe('dpop')

    const response = await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(`${origin}/opaque/ledger`),
      new Headers(),
      null,
      { DPoP: handle, [oauth.allowInsecureRequests]: true },
    )
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      scheme: 'DPoP',
      format: 'opaque',
      clientId: client.clientId,
    })
  })
})
