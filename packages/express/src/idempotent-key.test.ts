// The Idempotency-Key on Express: its header read in bounded time, and its scope, the resource the
// route names (the route pattern and its parameters, not the path as spelled), issue 12.

// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { startHttpServer } from '@zerotrust/testkit'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { idempotent } from './index.js'

const post = (url: string, key: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: '{}',
  })

describe('idempotent() on Express: the key, bounded and scoped by the route', () => {
  it('answers a 64 KiB Idempotency-Key with 400 key_too_long at once, without a backtracking trim (issue 12)', async () => {
    let runs = 0
    const app = express()
    app.use(express.json())
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    app.post('/pay', idempotent(layer), (_req, res) => {
      runs += 1
      res.status(201).json({ ok: 1 })
    })
    // Node refuses headers over 16 KiB by default; a server that raises the limit must stay safe.
    const server = await startHttpServer(app, { maxHeaderSize: 256 * 1024 })
    try {
      // Warm: the first request through a fresh app pays for compilation, not for the key.
      await post(`${server.url}/pay`, '"warm"')
      // Spaces inside a quote, ending in another character: 1.5 s of CPU for the quadratic trim.
      for (const key of [`"${' '.repeat(64 * 1024)}x"`, `"${'\\"'.repeat(32 * 1024)}`]) {
        // The fastest of three requests: a pause of a loaded machine slows one, the quadratic trim all.
        let fastest = Number.POSITIVE_INFINITY
        for (let attempt = 0; attempt < 3 && fastest >= 250; attempt++) {
          const started = performance.now()
          const res = await post(`${server.url}/pay`, key)
          fastest = Math.min(fastest, performance.now() - started)
          expect(res.status).toBe(400)
          expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
          expect(await res.json()).toMatchObject({ code: 'invalid_idempotency_key', status: 400 })
        }
        expect(fastest).toBeLessThan(250)
      }
      expect(runs).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('replays a retry whose path is spelled in another case or with a trailing slash (issue 12)', async () => {
    let runs = 0
    const app = express()
    app.use(express.json())
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    const tenants = express.Router({ mergeParams: true })
    tenants.post('/orders/:id', idempotent(layer, { mountPath: '/tenants/:tenant' }), (req, res) => {
      runs += 1
      res.status(201).json({ run: runs, tenant: req.params.tenant, id: req.params.id })
    })
    app.use('/tenants/:tenant', tenants)
    app.post('/orders', idempotent(layer), (_req, res) => {
      runs += 1
      res.status(201).json({ run: runs })
    })
    const server = await startHttpServer(app)
    try {
      const first = await post(`${server.url}/orders`, '"k1"')
      for (const path of ['/orders/', '/Orders', '/ORDERS/']) {
        const retry = await post(`${server.url}${path}`, '"k1"')
        expect(retry.status, path).toBe(201)
        expect(retry.headers.get('idempotent-replayed'), path).toBe('true')
      }
      expect(await first.json()).toEqual({ run: 1 })
      // Inside a router mounted at a pattern: its parameters name the resource, the spelling does not.
      const acme = await post(`${server.url}/tenants/acme/orders/7`, '"k2"')
      expect(await acme.json()).toEqual({ run: 2, tenant: 'acme', id: '7' })
      const again = await post(`${server.url}/Tenants/acme/Orders/7/`, '"k2"')
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      // Another tenant or another order is another resource: its own run, never acme's answer.
      const other = await post(`${server.url}/tenants/umbrella/orders/7`, '"k2"')
      expect(await other.json()).toEqual({ run: 3, tenant: 'umbrella', id: '7' })
      expect(runs).toBe(3)
    } finally {
      await server.close()
    }
  })

  it('scopes keys by the path when mounted with app.use(), where no route is known', async () => {
    let runs = 0
    const app = express()
    app.use(express.json())
    app.use(idempotent(idempotency({ store: memoryIdempotencyStore(), anonymous: true })))
    app.post('/orders/:id', (_req, res) => {
      runs += 1
      res.status(201).json({ run: runs })
    })
    const server = await startHttpServer(app)
    try {
      expect((await post(`${server.url}/orders/1`, '"k1"')).status).toBe(201)
      const other = await post(`${server.url}/orders/2`, '"k1"')
      expect(other.headers.get('idempotent-replayed')).toBeNull()
      expect(runs).toBe(2)
    } finally {
      await server.close()
    }
  })

  it('refuses a "mountPath" that is not a path pattern at construction', () => {
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    expect(() => idempotent(layer, { mountPath: 'tenants' })).toThrow(
      new TypeError('idempotent: "mountPath" option must be a path pattern starting with "/"'),
    )
  })
})
