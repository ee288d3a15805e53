import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import { type DecisionSink, ZeroTrustError } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { authenticate, errorHandler, requireScopes } from '@zerotrust/koa'
import Koa from 'koa'

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
export function buildApp(options: AppOptions): Koa {
  const orders = new Map<string, Order>()
  const tokens = jwtBearer({
    issuer: options.issuer,
    audience: options.audience,
    algorithms: ['ES256', 'RS256'],
  })

  const app = new Koa()
  // First, so that it renders a ZeroTrustError thrown by any handler below.
  app.use(errorHandler({ realm: 'orders' }))

  // Routes used before authenticate() are public.
  const open = new Router()
  open.get('/health', (ctx) => {
    ctx.body = { ok: true }
  })
  app.use(open.routes())

  app.use(
    authenticate(tokens, {
      realm: 'orders',
      onDecision: options.onDecision ?? ((event) => console.log(JSON.stringify(event))),
      ...(options.publicOrigin === undefined ? {} : { publicOrigin: options.publicOrigin }),
    }),
  )

  const router = new Router()
  router.get('/orders', requireScopes('orders:read'), (ctx) => {
    const mine = [...orders.values()].filter((order) => order.createdBy === ctx.state.auth?.subject)
    ctx.body = { orders: mine }
  })
  // The body is parsed only once the caller may write.
  router.post(
    '/orders',
    requireScopes('orders:write'),
    bodyParser({ enableTypes: ['json'], jsonLimit: '16kb' }),
    (ctx) => {
      const { item, quantity } = (ctx.request.body ?? {}) as { item?: unknown; quantity?: unknown }
      if (typeof item !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
        ctx.status = 400
        ctx.body = { error: 'expected { item: string, quantity: positive integer }' }
        return
      }
      const order: Order = {
        id: String(orders.size + 1),
        item,
        quantity: quantity as number,
        createdBy: ctx.state.auth?.subject ?? '',
      }
      orders.set(order.id, order)
      ctx.status = 201
      ctx.body = order
    },
  )
  router.get('/orders/:id', requireScopes('orders:read'), (ctx) => {
    const order = orders.get(String(ctx.params.id))
    if (order === undefined) {
      ctx.status = 404
      ctx.body = { error: 'no such order' }
      return
    }
    if (order.createdBy !== ctx.state.auth?.subject) {
      throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
    }
    ctx.body = order
  })
  app.use(router.routes()).use(router.allowedMethods())
  return app
}
