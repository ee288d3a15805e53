// Regressions of idempotent() on Koa found by review; each test names what it guards.
import { request as httpRequest } from 'node:http'
import { gunzipSync, gzipSync } from 'node:zlib'
import Router from '@koa/router'
import { startHttpServer, type TestHttpServer } from '@zerotrust/testkit'
import Koa, { type Middleware } from 'koa'
import { describe, expect, it } from 'vitest'
// The adapter depends on core only; its tests take the layer from the sibling package's sources.
import { idempotency, memoryIdempotencyStore } from '../../idempotency/src/index.js'
import { idempotent } from './index.js'

/**
 * What `@koa/bodyparser` leaves (it is not a dependency here): for a type it parses, the parsed value
 * in `ctx.request.body` and the text in `ctx.request.rawBody`; for any other type an empty object and
 * no `rawBody`, the body left unread.
 */
function bodyParserLike(parses: readonly ('json' | 'text')[]): Middleware {
  return async (ctx, next) => {
    const request = ctx.request as { body?: unknown; rawBody?: string }
    const kind = ctx.is('application/json') ? 'json' : ctx.is('text/*') ? 'text' : undefined
    if (kind === undefined || !parses.includes(kind)) {
      request.body = {}
      return next()
    }
    const chunks: Buffer[] = []
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    request.rawBody = raw
    request.body = kind === 'json' ? JSON.parse(raw) : raw
    return next()
  }
}

function appWith(parser: Middleware, ...inner: Middleware[]) {
  const counter = { runs: 0 }
  const app = new Koa()
  app.silent = true
  app.use(parser)
  app.use(idempotent(idempotency({ store: memoryIdempotencyStore(), anonymous: true })))
  for (const middleware of inner) app.use(middleware)
  app.use((ctx) => {
    counter.runs += 1
    ctx.status = 201
    ctx.body = { run: counter.runs, note: 'x'.repeat(50) }
  })
  return { app, counter }
}

const post = (server: TestHttpServer, type: string, body: string, key = '"k1"') =>
  fetch(server.url, { method: 'POST', headers: { 'content-type': type, 'idempotency-key': key }, body })

describe('idempotent() on Koa, regressions', () => {
  it('refuses a body its parser left as an empty object with 415 (issue 12), never replaying another payload', async () => {
    const { app, counter } = appWith(bodyParserLike(['json']))
    const server = await startHttpServer(app.callback())
    try {
      for (const body of ['transfer 10 EUR to alice', 'transfer 9999 EUR to mallory']) {
        const res = await post(server, 'text/plain', body)
        // The client's media type, not a server fault: 415, never a 500.
        expect(res.status).toBe(415)
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
        expect(res.headers.get('idempotent-replayed')).toBeNull()
        expect(await res.json()).toMatchObject({ code: 'unsupported_media_type', status: 415 })
      }
      expect(counter.runs).toBe(0)
      // A request without a body still takes part: an empty object then is no body.
      const empty = await fetch(server.url, { method: 'POST', headers: { 'idempotency-key': '"k2"' } })
      expect(empty.status).toBe(201)
    } finally {
      await server.close()
    }
  })

  it('fails closed with 500 on a body no parser saw at all: the route has no body parser', async () => {
    const noParser: Middleware = (_ctx, next) => next()
    const { app, counter } = appWith(noParser)
    const server = await startHttpServer(app.callback())
    try {
      const res = await post(server, 'application/json', '{"amount":5}')
      expect(res.status).toBe(500)
      expect(await res.json()).toMatchObject({ code: 'internal_error' })
      expect(counter.runs).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('fingerprints the text the parser read: another payload with the same key is 422', async () => {
    const { app, counter } = appWith(bodyParserLike(['json', 'text']))
    const server = await startHttpServer(app.callback())
    try {
      expect((await post(server, 'text/plain', 'transfer 10 EUR to alice')).status).toBe(201)
      const reused = await post(server, 'text/plain', 'transfer 9999 EUR to mallory')
      expect(reused.status).toBe(422)
      const retry = await post(server, 'text/plain', 'transfer 10 EUR to alice')
      expect(retry.headers.get('idempotent-replayed')).toBe('true')
      // JSON text counts as canonical JSON: key order and whitespace do not make another payload.
      expect((await post(server, 'application/json', '{"a":1,"b":2}', '"k2"')).status).toBe(201)
      const reordered = await post(server, 'application/json', '{ "b": 2, "a": 1 }', '"k2"')
      expect(reordered.headers.get('idempotent-replayed')).toBe('true')
      expect(counter.runs).toBe(2)
    } finally {
      await server.close()
    }
  })

  it('replays a body a compression middleware inside the route encoded, encoded once', async () => {
    // What koa-compress does (not a dependency here): encode unless the response is encoded already.
    const compress: Middleware = async (ctx, next) => {
      await next()
      if (ctx.response.get('content-encoding') || !ctx.acceptsEncodings('gzip')) return
      ctx.set('content-encoding', 'gzip')
      ctx.vary('accept-encoding')
      ctx.body = gzipSync(JSON.stringify(ctx.body))
    }
    const { app, counter } = appWith(bodyParserLike(['json']), compress)
    const server = await startHttpServer(app.callback())
    const raw = () =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        const req = httpRequest(
          `${server.url}/`,
          {
            method: 'POST',
            agent: false,
            headers: {
              'idempotency-key': '"k1"',
              'accept-encoding': 'gzip',
              'content-type': 'application/json',
            },
          },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (chunk: Buffer) => chunks.push(chunk))
            res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }))
          },
        )
        req.on('error', reject)
        req.end('{}')
      })
    try {
      const first = await raw()
      const replay = await raw()
      expect(first.headers['content-encoding']).toBe('gzip')
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.headers['content-encoding']).toBe('gzip')
      expect(replay.headers.vary).toBe('accept-encoding')
      expect(replay.body).toEqual(first.body)
      expect(JSON.parse(gunzipSync(replay.body).toString('utf8'))).toMatchObject({ run: 1 })
      expect(counter.runs).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('replays a stored 204 and 304 without a body or a Content-Length', async () => {
    const app = new Koa()
    app.silent = true
    app.use(bodyParserLike(['json']))
    app.use(idempotent(idempotency({ store: memoryIdempotencyStore(), anonymous: true })))
    app.use((ctx) => {
      ctx.set('etag', '"v1"')
      ctx.status = Number(ctx.path.slice(1))
    })
    const server = await startHttpServer(app.callback())
    try {
      for (const status of [204, 304]) {
        const url = `${server.url}/${status}`
        await fetch(url, { method: 'POST', headers: { 'idempotency-key': '"k1"' } })
        const replay = await fetch(url, { method: 'POST', headers: { 'idempotency-key': '"k1"' } })
        expect(replay.status).toBe(status)
        expect(replay.headers.get('idempotent-replayed')).toBe('true')
        expect(replay.headers.get('etag')).toBe('"v1"')
        expect(replay.headers.get('content-length')).toBeNull()
        expect(await replay.text()).toBe('')
      }
    } finally {
      await server.close()
    }
  })

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
