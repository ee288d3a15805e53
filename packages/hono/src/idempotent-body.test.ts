// The idempotency behaviour every adapter shares runs in the conformance suite (packages/conformance);
// what is left here is Hono's own: the middleware reads the body itself, and the handler can still read it.
// Reading it only when the request takes part guards a finding of the security review of idempotent().

// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { serveApp } from '../test/serve.js'
import { idempotent } from './index.js'

describe('idempotent() on Hono (node-server): the body it reads', () => {
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
