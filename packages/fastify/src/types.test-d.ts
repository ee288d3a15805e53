import type { Auth } from '@zerotrust/core'
import Fastify, { type FastifyRequest } from 'fastify'
import { expectTypeOf, test } from 'vitest'
import { requireScopes, type ZeroTrustRouteConfig, zeroTrust } from './index.js'

test('request.auth is typed by declaration merging', () => {
  expectTypeOf<FastifyRequest['auth']>().toEqualTypeOf<Auth | undefined>()
  expectTypeOf<NonNullable<FastifyRequest['auth']>['scopes']>().toEqualTypeOf<readonly string[]>()
})

test('route config.zeroTrust is typed by declaration merging', () => {
  const app = Fastify()
  void app.register(zeroTrust, { authenticator: { layer: 'x', authenticate: async () => ({}) as Auth } })
  app.get('/health', { config: { zeroTrust: false } }, async () => ({ ok: true }))
  app.post('/orders', { onRequest: [requireScopes('orders:write')] }, async () => ({ created: true }))
  app.get<{ Params: { id: string } }>(
    '/orders/:id',
    {
      config: { zeroTrust: { scopes: ['orders:read'], match: 'any' } },
      preHandler: requireScopes('orders:read'),
    },
    async (request) => {
      expectTypeOf(request.routeOptions.config.zeroTrust).toEqualTypeOf<ZeroTrustRouteConfig | undefined>()
      return { id: request.params.id, subject: request.auth?.subject }
    },
  )
})
