// edge (Fastify): the only public service. Verifies the user's DPoP-bound token, counts the request
// against the user's budget, and calls orders over mutual TLS with an internal token minted for orders
// alone: the user's own token stops here.
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ClientEventSink, isOutboundError, zeroTrustClient } from '@zerotrust/client'
import { type DecisionSink, type ReplayStore, ZeroTrustError } from '@zerotrust/core'
import { dpop } from '@zerotrust/dpop'
import { type InternalTokens, internalTokens } from '@zerotrust/exchange'
import { zeroTrust } from '@zerotrust/fastify'
import { jwtBearer } from '@zerotrust/jwt'
import { rateLimit } from '@zerotrust/ratelimit'
import { type SvidSource, svidFiles } from '@zerotrust/workload'
import Fastify from 'fastify'
import type { Redis } from 'ioredis'
import { ids } from './pki.js'

/** The issuer of the internal tokens the edge mints; orders trusts it and no other. */
export const edgeIssuer = 'https://edge.shop.example.com/'

/** Requests a user may make in a minute; the burst step goes past it. */
export const perUserLimit = 10

/**
 * Seconds the edge keeps verifying with the identity provider's keys once it can no longer fetch them:
 * `http.maxStale` of `jwtBearer`, a day by default, 3 s here so the outage shows within the run.
 */
export const maxStaleSeconds = 3

/** The edge's SVID and the internal tokens it mints, with the endpoint that publishes their keys. */
export interface EdgeKeys {
  readonly svid: SvidSource
  readonly internal: InternalTokens
  /** Where orders fetches the keys: the edge's key endpoint on loopback. */
  readonly jwksUri: string
  close(): Promise<void>
}

/**
 * Reads the edge's SVID and starts its key endpoint (loopback, plain HTTP: public keys only) before
 * anything else of the edge, so that orders can be told where to fetch them.
 */
export async function startEdgeKeys(svidDir: string): Promise<EdgeKeys> {
  const svid = svidFiles({ dir: svidDir })
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string
  // Internal tokens: 60 s, for one audience, bound to the edge's certificate, act.sub = the edge.
  const internal = internalTokens({
    issuer: edgeIssuer,
    keys: { current: () => signingKey },
    bindTo: svid,
    audiences: ['api://orders'],
  })
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=60' })
      res.end(JSON.stringify(internal.jwks()))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    svid,
    internal,
    jwksUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        svid.close()
      }),
  }
}

export interface EdgeOptions {
  readonly keys: EdgeKeys
  /** The identity provider users get their tokens from. */
  readonly issuer: string
  readonly publicOrigin: string
  readonly ordersUrl: string
  readonly replayStore: ReplayStore | undefined
  readonly redis: Redis | undefined
  readonly prefix: string
  readonly onDecision: DecisionSink
  readonly onCall: ClientEventSink
}

export interface Edge {
  readonly url: string
  /** The edge's SVID as it reads it from its directory. */
  readonly svid: SvidSource
  close(): Promise<void>
}

/** Starts the edge on 127.0.0.1; see the guide, step 3. */
export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const { svid, internal } = options.keys
  const client = (scope: string) =>
    zeroTrustClient({
      baseUrl: options.ordersUrl,
      tls: svid, // the edge's SVID, followed as it rotates
      expectPeer: ids.orders, // orders' SPIFFE ID, not its address
      onBehalfOf: { tokens: internal, audience: 'api://orders', scope },
      onEvent: options.onCall,
    })
  const readOrders = client('orders:read')
  const refundOrders = client('orders:refund')

  const tokens = dpop(
    jwtBearer({
      issuer: options.issuer,
      audience: 'api://edge',
      algorithms: ['ES256'],
      http: { maxAge: 1000, maxStale: maxStaleSeconds * 1000 },
    }),
    {
      required: true,
      ...(options.replayStore === undefined ? {} : { replayStore: options.replayStore }),
    },
  )
  const limits = rateLimit({
    budgets: [{ name: 'per-user', limit: perUserLimit, windowSeconds: 60 }],
    ...(options.redis === undefined ? {} : { redis: options.redis, prefix: `${options.prefix}rl:` }),
  })

  const app = Fastify()
  await app.register(zeroTrust, {
    authenticator: tokens,
    publicOrigin: options.publicOrigin,
    onDecision: options.onDecision,
    realm: 'shop',
  })
  app.get<{ Params: { orderId: string } }>(
    '/orders/:orderId',
    { config: { zeroTrust: { scopes: 'orders:read', authorize: limits } } },
    async (request) => {
      const path = `/orders/${encodeURIComponent(request.params.orderId)}`
      return passOn(() => readOrders.fetch(path, { onBehalfOf: request.auth }))
    },
  )
  app.post<{ Params: { orderId: string } }>(
    '/orders/:orderId/refund',
    { config: { zeroTrust: { scopes: 'orders:refund', authorize: limits } } },
    async (request, reply) => {
      const path = `/orders/${encodeURIComponent(request.params.orderId)}/refund`
      const body = await passOn(() => refundOrders.fetch(path, { method: 'POST', onBehalfOf: request.auth }))
      return reply.code(201).send(body)
    },
  )

  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    svid,
    close: async () => {
      await Promise.all([readOrders.close(), refundOrders.close()])
      await app.close()
    },
  }
}

/**
 * orders' answer to the user. orders denying by policy is the user's 403, said as such; any other refusal
 * stays the client's error (500 `upstream_refused`, or 503 with `Retry-After` when orders is down).
 */
async function passOn(call: () => Promise<{ json(): Promise<unknown> }>): Promise<unknown> {
  try {
    return await (await call()).json()
  } catch (error) {
    if (isOutboundError(error) && error.upstream?.status === 403) {
      const reason = error.upstream.problem?.extensions.reason
      throw new ZeroTrustError('access_denied', 'orders refused the request', {
        reason: typeof reason === 'string' ? reason : 'denied_by_policy',
        cause: error,
      })
    }
    throw error
  }
}
