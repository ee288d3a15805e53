import { Readable } from 'node:stream'
import koaCors from '@koa/cors'
import Router from '@koa/router'
import { requireScopes as scopes, ZeroTrustError } from '@zerotrust/core'
import { contextOf, runAuthorization } from '@zerotrust/core/adapter'
import { authenticate, authorize, errorHandler, idempotent, requireScopes } from '@zerotrust/koa'
import { startHttpServer } from '@zerotrust/testkit'
import Koa, { type Middleware } from 'koa'
import { type Mount, sendRaw } from '../harness.js'
import { paymentService } from '../idempotency-scenarios.js'

const auditScope = scopes('orders:audit')

/**
 * A JSON body parser as small as can be (the suite has no Koa body parser): sets `ctx.request.body`,
 * and, as `@koa/bodyparser` does, an empty object for a body of another type, which it leaves unread.
 */
const jsonBody: Middleware = async (ctx, next) => {
  if (ctx.is('application/json') === false) {
    ;(ctx.request as { body?: unknown }).body = {}
    return next()
  }
  const chunks: Buffer[] = []
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
  if (chunks.length > 0) {
    ;(ctx.request as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  }
  await next()
}

/** The conformance app on Koa 3 with @koa/router: routes of the router used before `authenticate()` are public. */
export const mountKoa: Mount = async ({
  authenticator,
  onDecision,
  realm,
  publicOrigin,
  cedar,
  idempotency,
  cors,
}) => {
  const app = new Koa()
  app.silent = true
  app.use(errorHandler())
  if (cors) app.use(koaCors({ origin: cors.origin, exposeHeaders: [...cors.exposedHeaders] }))

  const open = new Router()
  open.get('/health', (ctx) => {
    ctx.body = { ok: true }
  })
  app.use(open.routes())

  app.use(authenticate(authenticator, { onDecision, realm, publicOrigin }))
  const router = new Router()
  router.get('/orders', requireScopes('orders:read'), (ctx) => {
    ctx.body = { auth: ctx.state.auth }
  })
  router.post('/orders', requireScopes('orders:write'), (ctx) => {
    ctx.status = 201
    ctx.body = { created: true }
  })
  router.get('/orders/:id', () => {
    throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
  })
  router.get('/orders/:id/audit', async (ctx) => {
    const context = contextOf(ctx)
    if (context === undefined) throw new Error('authenticate() did not run')
    await runAuthorization(auditScope, context.view, context.auth, context.onDecision)
  })
  if (cedar) {
    router.get('/tenants/:tenant/orders/:orderId', authorize(cedar), (ctx) => {
      ctx.body = { orderId: ctx.params.orderId }
    })
    router.post('/v1/charges', authorize(cedar), (ctx) => {
      ctx.status = 201
      ctx.body = { charged: true }
    })
  }
  if (idempotency) {
    const pay = paymentService()
    router.post('/payments', jsonBody, idempotent(idempotency), async (ctx) => {
      const answer = await pay(new URLSearchParams(ctx.querystring))
      ctx.status = answer.status
      ctx.set(answer.headers)
      ctx.body =
        answer.body === undefined
          ? null
          : answer.chunks === undefined
            ? answer.body
            : Readable.from(answer.chunks)
    })
  }
  app.use(router.routes()).use(router.allowedMethods())

  const server = await startHttpServer(app.callback())
  return { send: (request) => sendRaw(server.port, request), close: server.close }
}
