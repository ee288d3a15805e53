import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { requireScopes as scopes, ZeroTrustError } from '@zerotrust/core'
import { contextOf, runAuthorization } from '@zerotrust/core/adapter'
import { authenticate, authorize, errorHandler, idempotent, requireScopes } from '@zerotrust/hono'
import { Hono } from 'hono'
import { cors as honoCors } from 'hono/cors'
import { type Mount, type MountOptions, sendFetch, sendRaw } from '../harness.js'
import { paymentService } from '../idempotency-scenarios.js'

const auditScope = scopes('orders:audit')

/** The conformance app on Hono 4: routes registered before `authenticate()` are public. */
function buildApp({
  authenticator,
  onDecision,
  realm,
  publicOrigin,
  cedar,
  idempotency,
  cors,
}: MountOptions): Hono {
  const app = new Hono()
  app.onError(errorHandler())
  app.get('/health', (c) => c.json({ ok: true }))
  if (cors) app.use(honoCors({ origin: cors.origin, exposeHeaders: [...cors.exposedHeaders] }))
  app.use(authenticate(authenticator, { onDecision, realm, publicOrigin }))
  app.get('/orders', requireScopes('orders:read'), (c) => c.json({ auth: c.get('auth') }))
  app.post('/orders', requireScopes('orders:write'), (c) => c.json({ created: true }, 201))
  app.get('/orders/:id', () => {
    throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
  })
  app.get('/orders/:id/audit', async (c) => {
    const context = contextOf(c)
    if (context === undefined) throw new Error('authenticate() did not run')
    await runAuthorization(auditScope, context.view, context.auth, context.onDecision)
    return c.body(null, 204)
  })
  if (cedar) {
    app.get('/tenants/:tenant/orders/:orderId', authorize(cedar), (c) =>
      c.json({ orderId: c.req.param('orderId') }),
    )
    app.post('/v1/charges', authorize(cedar), (c) => c.json({ charged: true }, 201))
  }
  if (idempotency) {
    const pay = paymentService()
    app.post('/payments', idempotent(idempotency), async (c) => {
      const answer = await pay(new URL(c.req.url).searchParams)
      const { chunks } = answer
      if (answer.body === undefined) return c.body(null, answer.status as 204, answer.headers)
      if (chunks === undefined) return c.json(answer.body, answer.status as 201 | 503, answer.headers)
      const encoder = new TextEncoder()
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(encoder.encode(chunk))
          controller.close()
        },
      })
      return c.body(stream, answer.status as 200, answer.headers)
    })
  }
  return app
}

/** Hono on @hono/node-server, reached over a raw socket: the adapter reads the Node request. */
export const mountHonoNode: Mount = async (options) => {
  const app = buildApp(options)
  const server = await new Promise<Server>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
      resolve(started as Server),
    )
  })
  const { port } = server.address() as AddressInfo
  return {
    send: (request) => sendRaw(port, request),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Hono through `app.request`, without a server: the adapter reads the Fetch request. */
export const mountHonoFetch: Mount = async (options) => {
  const app = buildApp(options)
  return {
    send: (request) => sendFetch((req) => app.request(req), request),
    close: async () => {},
  }
}
