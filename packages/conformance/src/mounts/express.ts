import { requireScopes as scopes, ZeroTrustError } from '@zerotrust/core'
import { contextOf, runAuthorization } from '@zerotrust/core/adapter'
import { authenticate, authorize, errorHandler, idempotent, requireScopes } from '@zerotrust/express'
import { startHttpServer } from '@zerotrust/testkit'
import cors from 'cors'
import express from 'express'
import { type Mount, sendRaw } from '../harness.js'
import { paymentService } from '../idempotency-scenarios.js'

const auditScope = scopes('orders:audit')

/** The conformance app on Express 5: routes before `authenticate()` are public. */
export const mountExpress: Mount = async ({
  authenticator,
  onDecision,
  realm,
  publicOrigin,
  cedar,
  idempotency,
  cors: corsOptions,
}) => {
  const app = express()
  app.get('/health', (_req, res) => {
    res.json({ ok: true })
  })
  if (corsOptions) {
    app.use(cors({ origin: corsOptions.origin, exposedHeaders: [...corsOptions.exposedHeaders] }))
  }
  app.use(authenticate(authenticator, { onDecision, realm, publicOrigin }))
  app.get('/orders', requireScopes('orders:read'), (req, res) => {
    res.json({ auth: req.auth })
  })
  app.post('/orders', requireScopes('orders:write'), (_req, res) => {
    res.status(201).json({ created: true })
  })
  app.get('/orders/:id', () => {
    throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
  })
  app.get('/orders/:id/audit', async (req) => {
    const context = contextOf(req)
    if (context === undefined) throw new Error('authenticate() did not run')
    await runAuthorization(auditScope, context.view, context.auth, context.onDecision)
  })
  if (cedar) {
    app.get('/tenants/:tenant/orders/:orderId', authorize(cedar), (req, res) => {
      res.json({ orderId: req.params.orderId })
    })
    app.post('/v1/charges', authorize(cedar), (_req, res) => {
      res.status(201).json({ charged: true })
    })
  }
  if (idempotency) {
    const pay = paymentService()
    app.post('/payments', express.json(), idempotent(idempotency), async (req, res) => {
      const answer = await pay(new URL(req.originalUrl, 'http://payments').searchParams)
      res.status(answer.status).set(answer.headers)
      if (answer.body === undefined) {
        res.end()
        return
      }
      if (answer.chunks === undefined) {
        res.json(answer.body)
        return
      }
      for (const chunk of answer.chunks) res.write(chunk)
      res.end()
    })
  }
  app.use(errorHandler())

  const server = await startHttpServer(app)
  return { send: (request) => sendRaw(server.port, request), close: server.close }
}
