// How idempotent() on Hono sends a stored response again: the statuses that carry no body, a finding of
// the security review of idempotent().

// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { serveApp } from '../test/serve.js'
import { idempotent } from './index.js'

describe('idempotent() on Hono: the stored response and its replay', () => {
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
})
