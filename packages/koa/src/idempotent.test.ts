// The idempotency behaviour every adapter shares runs in the conformance suite (packages/conformance);
// what is left here is Koa's own: the body comes from `ctx.request.body`, which only a body parser sets.
import Router from '@koa/router'
import { startHttpServer } from '@zerotrust/testkit'
import Koa from 'koa'
import { describe, expect, it } from 'vitest'
// The adapter depends on core only; its tests take the layer from the sibling package's sources.
import { idempotency, memoryIdempotencyStore } from '../../idempotency/src/index.js'
import { idempotent } from './index.js'

describe('idempotent() on Koa', () => {
  it('fails closed with 500 when no body parser set ctx.request.body, and the handler never runs', async () => {
    let runs = 0
    const app = new Koa()
    app.silent = true
    const router = new Router()
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    router.post('/unparsed', idempotent(layer), (ctx) => {
      runs += 1
      ctx.status = 201
    })
    app.use(router.routes())
    const server = await startHttpServer(app.callback())
    try {
      const res = await fetch(`${server.url}/unparsed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': '"k1"' },
        body: '{"amount":5}',
      })
      expect(res.status).toBe(500)
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      expect(await res.json()).toMatchObject({ code: 'internal_error' })
      expect(runs).toBe(0)
    } finally {
      await server.close()
    }
  })
})
