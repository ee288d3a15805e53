import type { AddressInfo } from 'node:net'
import { ZeroTrustError } from '@zerotrust/core'
import { zeroTrust } from '@zerotrust/fastify'
import Fastify from 'fastify'
import { type Mount, sendRaw } from '../harness.js'

/** The conformance app on Fastify 5: one plugin, per-route `config.zeroTrust`, `/health` opted out. */
export const mountFastify: Mount = async ({ authenticator, onDecision, realm, publicOrigin }) => {
  const app = Fastify()
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
