import type { AddressInfo } from 'node:net'
import {
  type Auth,
  type Authenticator,
  type Authorizer,
  type DecisionEvent,
  ZeroTrustError,
} from '@zerotrust/core'
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

// Issue 14: the plugin's hooks take Fastify's callback form; a hook that answers must end the request's
// hooks there, as the async hooks did, so nothing after it runs on a refused request.
describe('@zerotrust/fastify hooks end the request where they answer', () => {
  const refusing: Authenticator = {
    layer: 'stub',
    authenticate: async () => {
      throw new ZeroTrustError('invalid_token', 'the access token is not valid', { reason: 'malformed' })
    },
  }
  const deny: Authorizer = {
    layer: 'deny',
    authorize: async () => ({
      allowed: false,
      error: new ZeroTrustError('access_denied', 'not for you', { reason: 'policy_denied' }),
    }),
  }

  async function serve(authenticator: Authenticator, later: string[]) {
    const app = Fastify()
    await app.register(zeroTrust, { authenticator })
    app.addHook('preParsing', async () => {
      later.push('preParsing')
    })
    app.addHook('preHandler', async () => {
      later.push('preHandler')
    })
    app.post('/open', async () => {
      later.push('handler')
      return { ok: true }
    })
    app.post('/denied', { config: { zeroTrust: { authorize: deny } } }, async () => {
      later.push('handler')
      return { ok: true }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    return { app, url: `http://127.0.0.1:${port}` }
  }

  it('runs no later hook and no handler after the authenticator refused', async () => {
    const later: string[] = []
    const { app, url } = await serve(refusing, later)
    try {
      const res = await fetch(`${url}/open`, { method: 'POST', headers: { authorization: 'Bearer x' } })
      expect({ status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({
        status: 401,
        code: 'invalid_token',
      })
      expect(later).toEqual([])
    } finally {
      await app.close()
    }
  })

  it('runs the later hooks and the handler when allowed, and neither after an authorizer denied', async () => {
    const later: string[] = []
    const { app, url } = await serve(stub, later)
    try {
      expect((await fetch(`${url}/open`, { method: 'POST' })).status).toBe(200)
      expect(later).toEqual(['preParsing', 'preHandler', 'handler'])
      later.length = 0
      const res = await fetch(`${url}/denied`, { method: 'POST' })
      expect({ status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({
        status: 403,
        code: 'access_denied',
      })
      // The plugin's preHandler, registered first, answered before the later one ran.
      expect(later).toEqual(['preParsing'])
    } finally {
      await app.close()
    }
  })
})

describe('the route config the hooks read (issue 14)', () => {
  it("is the object Fastify's routeOptions gives, on a route, on a 404 and on a late route", async () => {
    const { readsRouteContext, routeConfig } = await import('./lib/route-config.js')
    // This Fastify keeps the route context where the plugin reads it; the fallback is never needed here.
    expect(readsRouteContext).toBe(true)
    const app = Fastify()
    const seen: [unknown, unknown][] = []
    app.get('/early', async () => ({ ok: 1 }))
    app.addHook('onRequest', (request, _reply, done) => {
      seen.push([routeConfig(request), request.routeOptions.config])
      done()
    })
    app.get('/orders/:id', { config: { zeroTrust: { scopes: 'orders:read' } } }, async () => ({ ok: 1 }))
    for (const url of ['/orders/7', '/early', '/missing']) await app.inject({ method: 'GET', url })
    await app.close()
    expect(seen).toHaveLength(3)
    for (const [ours, theirs] of seen) {
      expect(ours).toBeDefined()
      expect(ours).toBe(theirs)
    }
  })
})
