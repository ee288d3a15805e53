// billing (Koa): takes charges from the orders workload only, each at most once per Idempotency-Key.
import { createServer as createHttpsServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import { allOf, type DecisionSink, type IdempotencyStore } from '@zerotrust/core'
import { actorChain, type JsonWebKeySet, maxActorDepth } from '@zerotrust/exchange'
import { idempotency } from '@zerotrust/idempotency'
import { jwtBearer } from '@zerotrust/jwt'
import { authenticate, errorHandler, idempotent } from '@zerotrust/koa'
import { serverTls, svidFiles, workloadIdentity } from '@zerotrust/workload'
import Koa from 'koa'
import { ids, trustDomain } from './pki.js'

/** A charge billing recorded (a refund is a negative amount). */
export interface Charge {
  readonly id: string
  readonly orderId: string
  readonly amountCents: number
  readonly user: string
  /** The workloads that acted for the user, nearest first (RFC 8693 `act`). */
  readonly via: readonly string[]
}

export interface BillingOptions {
  readonly svidDir: string
  /** The issuer of orders' internal tokens, and its public keys. */
  readonly ordersIssuer: string
  readonly ordersJwks: JsonWebKeySet
  readonly store: IdempotencyStore
  readonly publicOrigin: string
  readonly onDecision: DecisionSink
  /** Told of each TLS handshake the server refused (a certificate the bundle does not verify). */
  readonly onTlsRefused: (code: string) => void
}

export interface Billing {
  readonly url: string
  /** Every charge taken, in order: the demo shows a retried refund charged once. */
  readonly ledger: readonly Charge[]
  close(): Promise<void>
}

/** Starts billing on 127.0.0.1 over mutual TLS with its SVID; see the guide, step 5. */
export async function startBilling(options: BillingOptions): Promise<Billing> {
  const svid = svidFiles({ dir: options.svidDir })
  const ledger: Charge[] = []
  const writes = idempotency({ store: options.store, required: true, fields: ['orderId', 'amountCents'] })

  const app = new Koa()
  app.use(errorHandler())
  app.use(
    authenticate(
      allOf(
        // Which workload calls: orders, and no other, proven by its certificate in the handshake.
        workloadIdentity({ trustDomains: [trustDomain], ids: [ids.orders] }),
        // For whom: orders' internal token for billing, bound to orders' certificate, at most the edge
        // and orders acting for the user.
        maxActorDepth(
          jwtBearer({
            issuer: options.ordersIssuer,
            audience: 'api://billing',
            algorithms: ['ES256'],
            jwks: { keys: options.ordersJwks.keys.map((key) => ({ ...key })) },
          }),
          { maxDepth: 2 },
        ),
      ),
      { publicOrigin: options.publicOrigin, onDecision: options.onDecision },
    ),
  )
  const router = new Router()
  router.post(
    '/v1/charges',
    bodyParser({ enableTypes: ['json'], jsonLimit: '4kb' }),
    idempotent(writes),
    (ctx) => {
      const body = ctx.request.body as { orderId?: unknown; amountCents?: unknown }
      if (typeof body.orderId !== 'string' || !Number.isSafeInteger(body.amountCents)) {
        ctx.status = 400
        ctx.body = { error: 'orderId (string) and amountCents (integer) are required' }
        return
      }
      const auth = ctx.state.auth
      const charge: Charge = {
        id: `ch_${ledger.length + 1}`,
        orderId: body.orderId,
        amountCents: body.amountCents as number,
        user: auth?.subject ?? '',
        via: actorChain(auth).map((actor) => actor.sub),
      }
      ledger.push(charge)
      ctx.status = 201
      ctx.body = charge
    },
  )
  app.use(router.routes()).use(router.allowedMethods())

  const tls = serverTls(svid)
  const server: Server = tls.attach(createHttpsServer(tls, app.callback()))
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
    ledger,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        svid.close()
      }),
  }
}
