// The Idempotency-Key on Koa is scoped by the resource the route names, not by the path as spelled
// (issue 12).
import Router from '@koa/router'
// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { startHttpServer } from '@zerotrust/testkit'
import Koa, { type Middleware } from 'koa'
import { describe, expect, it } from 'vitest'
import { bodyParserLike } from '../test/idempotent-app.js'
import { idempotent } from './index.js'

describe('idempotent() on Koa: the key, scoped by the route', () => {
  it('scopes keys by the route on a route, and by the path under router.use() (issue 12)', async () => {
    let runs = 0
    const app = new Koa()
    app.silent = true
    app.use(bodyParserLike(['json']))
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    const router = new Router({ prefix: '/shops/:shop' })
    const answer: Middleware = (ctx) => {
      runs += 1
      ctx.status = 201
      ctx.body = { run: runs, path: ctx.path }
    }
    router.post('/orders/:id', idempotent(layer), answer)
    // A router middleware matches every path under its own: its pattern names no single resource.
    router.use('/refunds', idempotent(layer))
    router.post('/refunds/:id', answer)
    app.use(router.routes())
    const server = await startHttpServer(app.callback())
    const send = (path: string) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { 'idempotency-key': '"k1"' } })
    try {
      expect((await send('/shops/a/orders/7')).status).toBe(201)
      // The router ignores case and a trailing slash: one route, one resource, one run.
      for (const path of ['/shops/a/orders/7/', '/Shops/a/Orders/7']) {
        expect((await send(path)).headers.get('idempotent-replayed'), path).toBe('true')
      }
      // Another shop is another resource.
      expect((await send('/shops/b/orders/7')).headers.get('idempotent-replayed')).toBeNull()
      expect((await send('/shops/a/refunds/1')).status).toBe(201)
      const other = await send('/shops/a/refunds/2')
      expect(other.headers.get('idempotent-replayed')).toBeNull()
      expect(await other.json()).toMatchObject({ path: '/shops/a/refunds/2' })
      expect(runs).toBe(4)
    } finally {
      await server.close()
    }
  })
})
