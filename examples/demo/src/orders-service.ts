import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cedarAuthorizer } from '@zerotrust/cedar'
import type { DecisionSink } from '@zerotrust/core'
import { dpop } from '@zerotrust/dpop'
import { authenticate, authorize, errorHandler, idempotent, requireScopes } from '@zerotrust/express'
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { jwtBearer } from '@zerotrust/jwt'
import express, { type Request, type Response } from 'express'

/** Options of {@link startOrdersService}. */
export interface OrdersServiceOptions {
  /** The authorization server whose tokens the service accepts; its keys are found by discovery. */
  readonly issuer: string
  /** The service's own identifier, the `aud` its tokens must carry. */
  readonly audience: string
  /** Receives every authentication and authorization decision. */
  readonly onDecision: DecisionSink
  /** Seconds of clock skew tolerated on `exp`; 5 by default. */
  readonly clockTolerance?: number
}

/**
 * The service's Cedar policy: a caller reads an order only when it created it. Everything else is denied
 * by default.
 */
export const policies = `@id("owners-read-their-orders")
permit (principal, action == Action::"GET /orders/:orderId", resource)
when { resource.createdBy == principal };`

/** The origin clients use; DPoP proofs name it in `htu`, and the service compares with it, not `Host`. */
export const publicOrigin = 'https://orders.example.com'

/** A running orders service. */
export interface OrdersService {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  close(): Promise<void>
}

interface Order {
  readonly id: string
  readonly item: string
  readonly quantity: number
  readonly createdBy: string
}

/** The realm the service names in its challenges. */
export const realm = 'orders'

/**
 * Starts the demo's Express 5 service on 127.0.0.1 with a port the OS chooses: every request must carry
 * a JWT access token for `audience` from `issuer`, with a DPoP proof when the token is DPoP-bound;
 * reading orders needs the `orders:read` scope, creating one `orders:write` (safe to retry with an
 * `Idempotency-Key`), and reading one order the Cedar policy's permission.
 *
 * @example
 * const service = await startOrdersService({ issuer, audience: 'api://orders', onDecision: console.log })
 */
export async function startOrdersService(options: OrdersServiceOptions): Promise<OrdersService> {
  const orders: Order[] = [{ id: 'o-1', item: 'coffee beans', quantity: 2, createdBy: 'seed' }]
  // Bearer tokens as before; a DPoP-bound token only with a fresh proof of its key (RFC 9449).
  const tokens = dpop(
    jwtBearer({
      issuer: options.issuer,
      audience: options.audience,
      algorithms: ['ES256'],
      realm,
      ...(options.clockTolerance === undefined ? {} : { clockTolerance: options.clockTolerance }),
    }),
    { realm },
  )
  const owners = cedarAuthorizer({
    policies: { name: 'orders.cedar', text: policies },
    principal: (auth) => ({ type: 'User', id: auth.subject ?? '' }),
    resource: (req) => ({ type: 'Order', id: req.params?.orderId ?? '' }),
    // The slice the decision needs: the order, and who created it.
    entities: (req) => {
      const order = orders.find((candidate) => candidate.id === req.params?.orderId)
      if (order === undefined) return []
      const createdBy = { __entity: { type: 'User', id: order.createdBy } }
      return [{ uid: { type: 'Order', id: order.id }, attrs: { createdBy } }]
    },
  })
  const writes = idempotency({ store: memoryIdempotencyStore() })

  const app = express()
  app.disable('x-powered-by')
  app.use(authenticate(tokens, { onDecision: options.onDecision, realm, publicOrigin }))
  app.get('/orders', requireScopes('orders:read'), (_req: Request, res: Response) => {
    res.json({ orders })
  })
  app.get('/orders/:orderId', authorize(owners), (req: Request, res: Response) => {
    res.json(orders.find((order) => order.id === req.params.orderId))
  })
  const create = [requireScopes('orders:write'), express.json(), idempotent(writes)]
  app.post('/orders', ...create, (req: Request, res: Response) => {
    const body = (req.body ?? {}) as { item?: unknown; quantity?: unknown }
    const order: Order = {
      id: `o-${orders.length + 1}`,
      item: typeof body.item === 'string' ? body.item : 'unnamed item',
      quantity: typeof body.quantity === 'number' ? body.quantity : 1,
      createdBy: req.auth?.subject ?? 'unknown',
    }
    orders.push(order)
    res.status(201).json(order)
  })
  app.use(errorHandler({ realm }))

  const server = createServer(app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)))
        server.closeAllConnections()
      }),
  }
}
