// The idempotency behaviour every adapter shares runs in the conformance suite (packages/conformance);
// what is left here is Express's own: the body comes from a body parser mounted before idempotent().

// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { startHttpServer } from '@zerotrust/testkit'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { idempotent } from './index.js'

describe('idempotent() on Express: the body a parser read', () => {
  it('fails closed when no body parser read the body, and without authenticate() unless anonymous', async () => {
    let runs = 0
    const app = express()
    const store = memoryIdempotencyStore()
    app.post('/unparsed', idempotent(idempotency({ store, anonymous: true })), (_req, res) => {
      runs += 1
      res.status(201).json({ ran: true })
    })
    app.post('/unauthenticated', express.json(), idempotent(idempotency({ store })), (_req, res) => {
      runs += 1
      res.status(201).json({ ran: true })
    })
    app.post(
      '/anonymous',
      express.json(),
      idempotent(idempotency({ store, anonymous: true })),
      (_req, res) => {
        runs += 1
        res.status(201).json({ run: runs })
      },
    )
    const open = await startHttpServer(app)
    try {
      const send = (path: string) =>
        fetch(`${open.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': '"k1"' },
          body: '{"amount":5}',
        })
      const unparsed = await send('/unparsed')
      expect(unparsed.status).toBe(500)
      expect(await unparsed.json()).toMatchObject({ code: 'internal_error' })
      expect((await send('/unauthenticated')).status).toBe(500)
      expect(runs).toBe(0)
      const first = await send('/anonymous')
      const again = await send('/anonymous')
      expect([first.status, again.status]).toEqual([201, 201])
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      expect(await again.json()).toEqual(await first.json())
      expect(runs).toBe(1)
    } finally {
      await open.close()
    }
  })

  it('answers a text/plain body before express.json() with 415, and a route without a parser with 500 (issue 12)', async () => {
    let runs = 0
    const app = express()
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    const handler = (_req: express.Request, res: express.Response) => {
      runs += 1
      res.status(201).json({ ok: 1 })
    }
    app.post('/json', express.json(), idempotent(layer), handler)
    app.post('/none', idempotent(layer), handler)
    const server = await startHttpServer(app)
    const send = (path: string, type: string, body: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': type, 'idempotency-key': '"k1"' },
        body,
      })
    try {
      const text = await send('/json', 'text/plain', 'transfer 10 EUR')
      expect(text.status).toBe(415)
      expect(text.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      expect(await text.json()).toMatchObject({ code: 'unsupported_media_type', status: 415 })
      // The client's fault is over once it sends a type the route reads.
      expect((await send('/json', 'application/json', '{"a":1}')).status).toBe(201)
      const misconfigured = await send('/none', 'application/json', '{"a":1}')
      expect(misconfigured.status).toBe(500)
      expect(await misconfigured.json()).toMatchObject({ code: 'internal_error' })
      expect(runs).toBe(1)
    } finally {
      await server.close()
    }
  })
})
