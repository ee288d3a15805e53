// How idempotent() on Koa stores a response and sends it again: a body a compression middleware encoded,
// and the statuses that carry no body. Each guards a finding of the security review of idempotent().
import { request as httpRequest } from 'node:http'
import { gunzipSync, gzipSync } from 'node:zlib'
// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { startHttpServer } from '@zerotrust/testkit'
import Koa, { type Middleware } from 'koa'
import { describe, expect, it } from 'vitest'
import { appWith, bodyParserLike } from '../test/idempotent-app.js'
import { idempotent } from './index.js'

describe('idempotent() on Koa: the stored response and its replay', () => {
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
})
