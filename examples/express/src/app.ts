import { type DecisionSink, ZeroTrustError } from '@zerotrust/core'
import { authenticate, errorHandler, requireScopes } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import express, { type Express } from 'express'

/** Options of {@link buildApp}. */
export interface AppOptions {
  /** The authorization server whose tokens the API accepts. */
  readonly issuer: string
  /** The API's identifier, the `aud` of its tokens. */
  readonly audience: string
  /** The origin clients use to reach the API, such as `https://orders.example.com`. */
  readonly publicOrigin?: string
  /** Where decision events go; the console by default. */
  readonly onDecision?: DecisionSink
}

interface Order {
  readonly id: string
  readonly item: string
  readonly quantity: number
  readonly createdBy: string
}

/**
 * The orders API: `GET /health` is public; reading orders needs `orders:read`, creating one
 * `orders:write`, and an order can only be read by whoever created it.
 */
export function buildApp(options: AppOptions): Express {
  const orders = new Map<string, Order>()
  const tokens = jwtBearer({
    issuer: options.issuer,
    audience: options.audience,
    algorithms: ['ES256', 'RS256'],
  })

  const app = express()
  app.disable('x-powered-by')
  app.get('/health', (_req, res) => {
    res.json({ ok: true })
  })
  app.use(
    authenticate(tokens, {
      realm: 'orders',
      onDecision: options.onDecision ?? ((event) => console.log(JSON.stringify(event))),
      ...(options.publicOrigin === undefined ? {} : { publicOrigin: options.publicOrigin }),
    }),
  )
  app.get('/orders', requireScopes('orders:read'), (req, res) => {
    const mine = [...orders.values()].filter((order) => order.createdBy === req.auth?.subject)
    res.json({ orders: mine })
  })
  app.post('/orders', requireScopes('orders:write'), express.json({ limit: '16kb' }), (req, res) => {
    const { item, quantity } = (req.body ?? {}) as { item?: unknown; quantity?: unknown }
    if (typeof item !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
      res.status(400).json({ error: 'expected { item: string, quantity: positive integer }' })
      return
    }
    const order: Order = {
      id: String(orders.size + 1),
      item,
      quantity: quantity as number,
      createdBy: req.auth?.subject ?? '',
    }
    orders.set(order.id, order)
    res.status(201).json(order)
  })
  app.get('/orders/:id', requireScopes('orders:read'), (req, res) => {
    const order = orders.get(String(req.params.id))
    if (order === undefined) {
      res.status(404).json({ error: 'no such order' })
      return
    }
    if (order.createdBy !== req.auth?.subject) {
      throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
    }
    res.json(order)
  })
  app.use(errorHandler({ realm: 'orders' }))
  return app
}
