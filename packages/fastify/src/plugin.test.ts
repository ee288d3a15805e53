import type { AddressInfo } from 'node:net'
import type { Auth, Authenticator, DecisionEvent } from '@zerotrust/core'
import Fastify from 'fastify'
import { describe, expect, it, vi } from 'vitest'
import { zeroTrust } from './index.js'

const alice: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: ['api://orders'],
  clientId: 'web',
  scopes: [],
  claims: {},
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: undefined,
  cnf: undefined,
}
const stub: Authenticator = { layer: 'stub', authenticate: async () => alice }

// Issue 12: every answer a zerotrust piece renders yields exactly one decision event.
describe('@zerotrust/fastify decision events of answers the plugin renders', () => {
  it('reports the 500 of a late route whose config.zeroTrust is wrong, once, as the fastify layer', async () => {
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const events: DecisionEvent[] = []
    const app = Fastify()
    try {
      void app.register(zeroTrust, { authenticator: stub, onDecision: (e) => events.push(e) })
      // Declared before the plugin loads: its config is checked on its first request.
      app.get('/typo', { config: { zeroTrust: { scope: 'orders:write' } as never } }, async () => ({ ok: 1 }))
      await app.listen({ port: 0, host: '127.0.0.1' })
      const { port } = app.server.address() as AddressInfo
      const res = await fetch(`http://127.0.0.1:${port}/typo`)
      expect({ status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({
        status: 500,
        code: 'internal_error',
      })
      expect(events.map(({ durationMs: _d, ...rest }) => rest)).toEqual([
        {
          layer: 'fastify',
          outcome: 'error',
          code: 'internal_error',
          status: 500,
          method: 'GET',
          path: '/typo',
        },
      ])
    } finally {
      emit.mockRestore()
      await app.close()
    }
  })
})
