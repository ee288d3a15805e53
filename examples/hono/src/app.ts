import { type DecisionSink, ZeroTrustError } from '@zerotrust/core'
import { authenticate, errorHandler, requireScopes } from '@zerotrust/hono'
import { jwtBearer } from '@zerotrust/jwt'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'

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
export function buildApp(options: AppOptions): Hono {
  const orders = new Map<string, Order>()
  const tokens = jwtBearer({
    issuer: options.issuer,
    audience: options.audience,
    algorithms: ['ES256', 'RS256'],
  })

  const app = new Hono()
  app.onError(errorHandler({ realm: 'orders' }))

  // Routes registered before authenticate() are public; every later one is authenticated.
  app.get('/health', (c) => c.json({ ok: true }))
  app.use(
    authenticate(tokens, {
      realm: 'orders',
      onDecision: options.onDecision ?? ((event) => console.log(JSON.stringify(event))),
      ...(options.publicOrigin === undefined ? {} : { publicOrigin: options.publicOrigin }),
    }),
  )

  app.get('/orders', requireScopes('orders:read'), (c) => {
    const mine = [...orders.values()].filter((order) => order.createdBy === c.get('auth').subject)
    return c.json({ orders: mine })
  })
  // The body is read only once the caller may write.
  app.post('/orders', requireScopes('orders:write'), bodyLimit({ maxSize: 16 * 1024 }), async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined)
    const { item, quantity } = (body ?? {}) as { item?: unknown; quantity?: unknown }
    if (typeof item !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
      return c.json({ error: 'expected { item: string, quantity: positive integer }' }, 400)
    }
    const order: Order = {
      id: String(orders.size + 1),
      item,
      quantity: quantity as number,
      createdBy: c.get('auth').subject ?? '',
    }
    orders.set(order.id, order)
    return c.json(order, 201)
  })
  app.get('/orders/:id', requireScopes('orders:read'), (c) => {
    const order = orders.get(c.req.param('id'))
    if (order === undefined) return c.json({ error: 'no such order' }, 404)
    if (order.createdBy !== c.get('auth').subject) {
      throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
    }
    return c.json(order)
  })
  return app
}
