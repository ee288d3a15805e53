import { type DecisionSink, ZeroTrustError } from '@zerotrust/core'
import { zeroTrust } from '@zerotrust/fastify'
import { jwtBearer } from '@zerotrust/jwt'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'

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

const newOrder = {
  type: 'object',
  required: ['item', 'quantity'],
  additionalProperties: false,
  properties: {
    item: { type: 'string', minLength: 1, maxLength: 200 },
    quantity: { type: 'integer', minimum: 1 },
  },
} as const

/** The routes, as a plugin registered after zerotrust so that its `onRoute` hook sees each of them. */
const ordersRoutes: FastifyPluginAsync = async (app) => {
  const orders = new Map<string, Order>()

  app.get('/health', { config: { zeroTrust: false } }, async () => ({ ok: true }))

  app.get('/orders', { config: { zeroTrust: { scopes: 'orders:read' } } }, async (request) => ({
    orders: [...orders.values()].filter((order) => order.createdBy === request.auth?.subject),
  }))

  // Authentication and the scope check run before this body is read.
  app.post<{ Body: { item: string; quantity: number } }>(
    '/orders',
    { config: { zeroTrust: { scopes: 'orders:write' } }, schema: { body: newOrder }, bodyLimit: 16 * 1024 },
    async (request, reply) => {
      const order: Order = {
        id: String(orders.size + 1),
        item: request.body.item,
        quantity: request.body.quantity,
        createdBy: request.auth?.subject ?? '',
      }
      orders.set(order.id, order)
      return reply.code(201).send(order)
    },
  )

  app.get<{ Params: { id: string } }>(
    '/orders/:id',
    { config: { zeroTrust: { scopes: 'orders:read' } } },
    async (request, reply) => {
      const order = orders.get(request.params.id)
      if (order === undefined) return reply.code(404).send({ error: 'no such order' })
      if (order.createdBy !== request.auth?.subject) {
        throw new ZeroTrustError('access_denied', 'the order belongs to someone else', {
          reason: 'not_owner',
        })
      }
      return order
    },
  )
}

/**
 * The orders API: `GET /health` is public; reading orders needs `orders:read`, creating one
 * `orders:write`, and an order can only be read by whoever created it.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify()
  app.register(zeroTrust, {
    authenticator: jwtBearer({
      issuer: options.issuer,
      audience: options.audience,
      algorithms: ['ES256', 'RS256'],
    }),
    realm: 'orders',
    onDecision: options.onDecision ?? ((event) => console.log(JSON.stringify(event))),
    ...(options.publicOrigin === undefined ? {} : { publicOrigin: options.publicOrigin }),
  })
  app.register(ordersRoutes)
  return app
}
