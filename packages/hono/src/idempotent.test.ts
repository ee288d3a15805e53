// The idempotency behaviour every adapter shares runs in the conformance suite (packages/conformance);
// what is left here is Hono's own: the middleware reads the body itself, and the handler can still read it.
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
// The adapter depends on core only; its tests take the layer from the sibling package's sources.
import { idempotency, memoryIdempotencyStore } from '../../idempotency/src/index.js'
import { serveApp } from '../test/serve.js'
import { idempotent } from './index.js'

describe('idempotent() on Hono (node-server)', () => {
  it('leaves the body it read to the handler (Hono caches it), and replays what the handler answered', async () => {
    let runs = 0
    const app = new Hono()
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true, required: true })
    app.post('/payments', idempotent(layer), async (c) => {
      runs += 1
      const body = await c.req.json<{ amount: number; currency: string }>()
      return c.json({ run: runs, amount: body.amount, currency: body.currency }, 201)
    })
    const server = await serveApp(app)
    try {
      const send = (body: string) =>
        fetch(`${server.url}/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': '"k1"' },
          body,
        })
      const first = await send('{"amount":5,"currency":"EUR"}')
      expect(first.status).toBe(201)
      expect(await first.json()).toEqual({ run: 1, amount: 5, currency: 'EUR' })
      const again = await send('{"currency":"EUR","amount":5}')
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      expect(await again.json()).toEqual({ run: 1, amount: 5, currency: 'EUR' })
      expect(runs).toBe(1)
    } finally {
      await server.close()
    }
  })
})
