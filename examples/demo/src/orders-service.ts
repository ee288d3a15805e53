import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { DecisionSink } from '@zerotrust/core'
import { authenticate, errorHandler, requireScopes } from '@zerotrust/express'
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
 * a JWT access token for `audience` from `issuer`; reading orders needs the `orders:read` scope and
 * creating one `orders:write`.
 *
 * @example
 * const service = await startOrdersService({ issuer, audience: 'api://orders', onDecision: console.log })
 */
export async function startOrdersService(options: OrdersServiceOptions): Promise<OrdersService> {
  const tokens = jwtBearer({
    issuer: options.issuer,
    audience: options.audience,
    algorithms: ['ES256'],
    realm,
    ...(options.clockTolerance === undefined ? {} : { clockTolerance: options.clockTolerance }),
  })
  const orders: Order[] = [{ id: 'o-1', item: 'coffee beans', quantity: 2, createdBy: 'seed' }]

  const app = express()
  app.disable('x-powered-by')
  app.use(authenticate(tokens, { onDecision: options.onDecision, realm }))
  app.get('/orders', requireScopes('orders:read'), (_req: Request, res: Response) => {
    res.json({ orders })
  })
  app.post('/orders', requireScopes('orders:write'), express.json(), (req: Request, res: Response) => {
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
