import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import fastifyCors from '@fastify/cors'
import { requireScopes as scopes, ZeroTrustError } from '@zerotrust/core'
import { fromNodeRequest, noOrigin, runAuthorization } from '@zerotrust/core/adapter'
import { idempotent, zeroTrust } from '@zerotrust/fastify'
import Fastify from 'fastify'
import { type Mount, sendRaw } from '../harness.js'
import { paymentService } from '../idempotency-scenarios.js'

const auditScope = scopes('orders:audit')

/** The conformance app on Fastify 5: one plugin, per-route `config.zeroTrust`, `/health` opted out. */
export const mountFastify: Mount = async ({
  authenticator,
  onDecision,
  realm,
  publicOrigin,
  cedar,
  idempotency,
  cors,
}) => {
  const app = Fastify()
  if (cors) {
    await app.register(fastifyCors, { origin: cors.origin, exposedHeaders: [...cors.exposedHeaders] })
  }
  await app.register(zeroTrust, { authenticator, onDecision, realm, publicOrigin })
  app.get('/health', { config: { zeroTrust: false } }, async () => ({ ok: true }))
  app.get('/orders', { config: { zeroTrust: { scopes: 'orders:read' } } }, async (request) => ({
    auth: request.auth,
  }))
  app.post('/orders', { config: { zeroTrust: { scopes: 'orders:write' } } }, async (_request, reply) =>
    reply.code(201).send({ created: true }),
  )
  app.get('/orders/:id', async () => {
    throw new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })
  })
  // The plugin keeps its request state private: the handler builds its own view and uses the sink.
  app.get('/orders/:id/audit', async (request, reply) => {
    const view = fromNodeRequest(request.raw, { resolveOrigin: noOrigin })
    await runAuthorization(auditScope, view, request.auth, onDecision)
    return reply.code(204).send()
  })
  if (cedar) {
    app.get<{ Params: { orderId: string } }>(
      '/tenants/:tenant/orders/:orderId',
      { config: { zeroTrust: { authorize: cedar } } },
      async (request) => ({ orderId: request.params.orderId }),
    )
    app.post('/v1/charges', { config: { zeroTrust: { authorize: cedar } } }, async (_request, reply) =>
      reply.code(201).send({ charged: true }),
    )
  }
  if (idempotency) {
    const pay = paymentService()
    app.post('/payments', { preHandler: idempotent(idempotency) }, async (request, reply) => {
      const answer = await pay(new URL(request.originalUrl, 'http://payments').searchParams)
      reply.code(answer.status).headers(answer.headers)
      if (answer.body === undefined) return reply.send()
      return reply.send(answer.chunks === undefined ? answer.body : Readable.from(answer.chunks))
    })
  }

  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return {
    send: (request) => sendRaw(port, request),
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    },
  }
}
