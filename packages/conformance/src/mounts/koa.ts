import Router from '@koa/router'
import { ZeroTrustError } from '@zerotrust/core'
import { authenticate, errorHandler, requireScopes } from '@zerotrust/koa'
import { startHttpServer } from '@zerotrust/testkit'
import Koa from 'koa'
import { type Mount, sendRaw } from '../harness.js'

/** The conformance app on Koa 3 with @koa/router: routes of the router used before `authenticate()` are public. */
export const mountKoa: Mount = async ({ authenticator, onDecision, realm, publicOrigin }) => {
  const app = new Koa()
  app.silent = true
  app.use(errorHandler())

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
  app.use(router.routes()).use(router.allowedMethods())

  const server = await startHttpServer(app.callback())
  return { send: (request) => sendRaw(server.port, request), close: server.close }
}
