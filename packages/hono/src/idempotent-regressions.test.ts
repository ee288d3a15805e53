// Regressions of idempotent() on Hono found by review; each test names what it guards.
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
// The adapter depends on core only; its tests take the layer from the sibling package's sources.
import { idempotency, memoryIdempotencyStore } from '../../idempotency/src/index.js'
import { serveApp } from '../test/serve.js'
import { idempotent } from './index.js'

describe('idempotent() on Hono, regressions', () => {
  it('replays a stored 204, 205 and 304 with no body instead of failing with 500', async () => {
    let runs = 0
    const app = new Hono()
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    app.post('/:status', idempotent(layer), (c) => {
      runs += 1
      c.header('etag', '"v1"')
      return c.body(null, Number(c.req.param('status')) as 204)
    })
    const server = await serveApp(app)
    try {
      for (const status of [204, 205, 304]) {
        const url = `${server.url}/${status}`
        expect((await fetch(url, { method: 'POST', headers: { 'idempotency-key': '"k1"' } })).status).toBe(
          status,
        )
        const replay = await fetch(url, { method: 'POST', headers: { 'idempotency-key': '"k1"' } })
        expect(replay.status).toBe(status)
        expect(replay.headers.get('idempotent-replayed')).toBe('true')
        expect(replay.headers.get('etag')).toBe('"v1"')
        expect(await replay.text()).toBe('')
      }
      expect(runs).toBe(3)
    } finally {
      await server.close()
    }
  })

  it('leaves the body unread for a method the layer skips or a request without a key', async () => {
    const app = new Hono()
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    // The handler reads the raw stream, which a body the middleware buffered would have used up.
    app.on(['POST', 'PUT'], '/echo', idempotent(layer), async (c) =>
      c.text(c.req.raw.bodyUsed ? 'buffered' : await c.req.raw.text()),
    )
    app.post('/cached', idempotent(layer), async (c) => c.text(await c.req.text()))
    const server = await serveApp(app)
    try {
      const put = await fetch(`${server.url}/echo`, {
        method: 'PUT',
        headers: { 'idempotency-key': '"k1"' },
        body: 'put body',
      })
      expect(await put.text()).toBe('put body')
      const keyless = await fetch(`${server.url}/echo`, { method: 'POST', body: 'post body' })
      expect(await keyless.text()).toBe('post body')
      // With a key the body is read (and cached by Hono): the handler still has it.
      const keyed = await fetch(`${server.url}/cached`, {
        method: 'POST',
        headers: { 'idempotency-key': '"k1"' },
        body: 'keyed body',
      })
      expect(await keyed.text()).toBe('keyed body')
    } finally {
      await server.close()
    }
  })
})
