// orders (Express): called by the edge only, for a user the edge vouches for with an internal token;
// Cedar decides over the user, the order and the calling workload; refunds go to billing, idempotently.
import { generateKeyPairSync } from 'node:crypto'
import { createServer as createHttpsServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { cedarAuthorizer } from '@zerotrust/cedar'
import { type ClientEventSink, zeroTrustClient } from '@zerotrust/client'
import { allOf, type DecisionSink } from '@zerotrust/core'
import { type InternalTokens, internalTokens, maxActorDepth } from '@zerotrust/exchange'
import { authenticate, authorize, errorHandler } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { type SvidSource, serverTls, svidFiles, workloadIdentity } from '@zerotrust/workload'
import express, { type NextFunction, type Request, type Response } from 'express'
import { ids, trustDomain } from './pki.js'

/** The issuer of the internal tokens orders mints for billing. */
export const ordersIssuer = 'https://orders.shop.example.com/'

const day = 86_400

/** Who the users are: orders' own directory, which Cedar reads through `entities`. */
export const users: Readonly<Record<string, { readonly tenant: string; readonly role: 'member' | 'admin' }>> =
  {
    alice: { tenant: 'acme', role: 'member' },
    bob: { tenant: 'acme', role: 'member' },
    carol: { tenant: 'acme', role: 'admin' },
    dave: { tenant: 'acme', role: 'member' },
    erin: { tenant: 'globex', role: 'member' },
  }

interface Order {
  readonly id: string
  readonly owner: string
  readonly tenant: string
  readonly item: string
  readonly amountCents: number
  /** Seconds since the epoch. */
  readonly createdAt: number
}

/** The orders the demo starts with, aged relative to `now` (seconds). */
export function seedOrders(now: number): readonly Order[] {
  return [
    {
      id: 'o-1001',
      owner: 'alice',
      tenant: 'acme',
      item: 'espresso machine',
      amountCents: 42_000,
      createdAt: now - 3 * day,
    },
    {
      id: 'o-1002',
      owner: 'bob',
      tenant: 'acme',
      item: 'coffee beans',
      amountCents: 1_800,
      createdAt: now - 10 * day,
    },
    {
      id: 'o-1003',
      owner: 'alice',
      tenant: 'acme',
      item: 'grinder',
      amountCents: 9_500,
      createdAt: now - 120 * day,
    },
    {
      id: 'o-1004',
      owner: 'dave',
      tenant: 'acme',
      item: 'milk jug',
      amountCents: 1_200,
      createdAt: now - 2 * day,
    },
    {
      id: 'o-2001',
      owner: 'erin',
      tenant: 'globex',
      item: 'tea set',
      amountCents: 6_400,
      createdAt: now - 1 * day,
    },
  ]
}

/**
 * orders' Cedar policies. Every permit also names the edge as the calling workload: a request that
 * reaches orders any other way is denied by policy even if authentication were misconfigured.
 */
export const policies = `
@id("owners-read-their-orders")
permit (principal is User, action == Action::"GET /orders/:orderId", resource is Order)
when { resource.owner == principal && context.workload.id == "${ids.edge}" };

@id("tenant-admins-read-their-tenants-orders")
permit (principal is User, action == Action::"GET /orders/:orderId", resource is Order)
when { principal.role == "admin" && principal.tenant == resource.tenant && context.workload.id == "${ids.edge}" };

@id("refunds-need-the-scope-and-an-order-under-90-days")
permit (principal is User, action == Action::"POST /orders/:orderId/refund", resource is Order)
when {
  context.scopes.contains("orders:refund") &&
  (resource.owner == principal || (principal.role == "admin" && principal.tenant == resource.tenant)) &&
  context.time - resource.createdAt < ${90 * day} &&
  context.workload.id == "${ids.edge}"
};
`

/** orders' SVID and the internal tokens it mints for billing. */
export interface OrdersKeys {
  readonly svid: SvidSource
  readonly minted: InternalTokens
}

/**
 * Reads orders' SVID and makes its signing key (a fixed key for the run: the edge's key endpoint shows
 * the fetched kind), so that billing can be given orders' public keys before orders starts.
 */
export function ordersKeys(svidDir: string): OrdersKeys {
  const svid = svidFiles({ dir: svidDir })
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string
  // Internal tokens for billing: signed by orders, bound to its certificate, naming orders as actor.
  const minted = internalTokens({
    issuer: ordersIssuer,
    keys: { current: () => signingKey },
    bindTo: svid,
    audiences: ['api://billing'],
  })
  return { svid, minted }
}

export interface OrdersOptions {
  readonly keys: OrdersKeys
  /** The edge's issuer of internal tokens, and where its keys are published. */
  readonly edgeIssuer: string
  readonly edgeJwksUri: string
  readonly billingUrl: string
  readonly publicOrigin: string
  readonly onDecision: DecisionSink
  readonly onCall: ClientEventSink
  readonly onTlsRefused: (code: string) => void
}

export interface Orders {
  readonly url: string
  /** orders' SVID as it reads it from its directory. */
  readonly svid: SvidSource
  close(): Promise<void>
}

type Handler = (req: Request, res: Response, next: NextFunction) => void

const wrap =
  (handler: (req: Request, res: Response) => Promise<void>): Handler =>
  (req, res, next) => {
    handler(req, res).catch(next)
  }

/** Starts orders on 127.0.0.1 over mutual TLS with its SVID; see the guide, step 4. */
export async function startOrders(options: OrdersOptions): Promise<Orders> {
  const { svid, minted } = options.keys
  const orders = new Map(seedOrders(Math.floor(Date.now() / 1000)).map((order) => [order.id, order]))

  const billing = zeroTrustClient({
    baseUrl: options.billingUrl,
    tls: svid,
    expectPeer: ids.billing,
    onBehalfOf: { tokens: minted, audience: 'api://billing' },
    onEvent: options.onCall,
  })

  const cedar = cedarAuthorizer({
    policies: { name: 'orders.cedar', text: policies },
    principal: (auth) => ({ type: 'User', id: auth.subject ?? '' }),
    resource: (req) => ({ type: 'Order', id: req.params?.orderId ?? '' }),
    // The slice a decision needs: the user from the directory, the order and its owner.
    entities: (req, auth) => {
      const entities = []
      const user = users[auth.subject ?? '']
      if (user !== undefined) {
        entities.push({ uid: { type: 'User', id: auth.subject ?? '' }, attrs: { ...user } })
      }
      const order = orders.get(req.params?.orderId ?? '')
      if (order !== undefined) {
        entities.push({
          uid: { type: 'Order', id: order.id },
          attrs: {
            owner: { __entity: { type: 'User', id: order.owner } },
            tenant: order.tenant,
            createdAt: order.createdAt,
          },
        })
      }
      return entities
    },
  })

  const app = express()
  app.disable('x-powered-by')
  app.use(
    authenticate(
      allOf(
        // Which workload calls: the edge, and no other, proven by its certificate in the handshake.
        workloadIdentity({ trustDomains: [trustDomain], ids: [ids.edge] }),
        // For whom: the edge's internal token for orders (never the user's own), one actor deep.
        maxActorDepth(
          jwtBearer({
            issuer: options.edgeIssuer,
            audience: 'api://orders',
            algorithms: ['ES256'],
            jwksUri: options.edgeJwksUri,
          }),
          { maxDepth: 1 },
        ),
      ),
      { publicOrigin: options.publicOrigin, onDecision: options.onDecision },
    ),
  )
  app.get('/orders/:orderId', authorize(cedar), (req: Request, res: Response) => {
    res.json(orders.get(req.params.orderId as string))
  })
  app.post(
    '/orders/:orderId/refund',
    authorize(cedar),
    wrap(async (req, res) => {
      const order = orders.get(req.params.orderId as string) as Order
      // One key per order: a retried refund, whoever retries it, is charged once.
      const answer = await billing.fetch('/v1/charges', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderId: order.id, amountCents: -order.amountCents }),
        idempotencyKey: `refund-${order.id}`,
        onBehalfOf: req.auth,
      })
      res.status(201).json({
        order: order.id,
        charge: await answer.json(),
        replayed: answer.headers.get('idempotent-replayed') === 'true',
      })
    }),
  )
  // billing refusing a charge is orders' fault, not its caller's: the client's OutboundError renders as
  // a 500 (or a 503 with Retry-After when billing is down), never billing's own 4xx passed on.
  app.use(errorHandler())

  const tls = serverTls(svid)
  const server: Server = tls.attach(createHttpsServer(tls, app))
  // A handshake refused (a certificate the bundle does not verify) never reaches the app: say so here.
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) =>
    options.onTlsRefused(String(socket.authorizationError ?? error.code ?? 'tls')),
  )
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    svid,
    close: async () => {
      await billing.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      svid.close()
    },
  }
}
