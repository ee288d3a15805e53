// How idempotent() on Express captures the response it stores and sends it again: a response committed
// before the handler threw, an end() Node refuses, and the statuses that carry no body. Each guards a
// finding of the security review of idempotent() that built the conformance table.
import type { IdempotencyStore } from '@zerotrust/core'
// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { startHttpServer } from '@zerotrust/testkit'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { idempotent } from './index.js'

/** A memory store whose writes of responses take a while, as a remote store's do. */
function slowStore(delay: number): IdempotencyStore {
  const store = memoryIdempotencyStore()
  return {
    claim: (...args) => store.claim(...args),
    release: (...args) => store.release(...args),
    complete: async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, delay))
      return store.complete(...args)
    },
  }
}

const post = (url: string, key: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: '{}',
  })

describe('idempotent() on Express: the stored response and its replay', () => {
  it('sends the answer a handler committed before it threw, while a slow store writes it', async () => {
    let runs = 0
    const app = express()
    app.set('env', 'test') // finalhandler logs nothing
    app.use(express.json())
    const layer = idempotency({ store: slowStore(40), anonymous: true })
    app.post('/after', idempotent(layer), async (_req, res) => {
      runs += 1
      res.status(201).json({ ok: 1 })
      throw new Error('audit failed after send')
    })
    const server = await startHttpServer(app)
    try {
      const first = await post(`${server.url}/after`, '"k1"')
      expect(first.status).toBe(201)
      expect(first.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await first.text()).toBe('{"ok":1}')
      // The response was stored before its last bytes left: the retry at once is a replay, not a 409.
      const retry = await post(`${server.url}/after`, '"k1"')
      expect(retry.status).toBe(201)
      expect(retry.headers.get('idempotent-replayed')).toBe('true')
      expect(await retry.text()).toBe('{"ok":1}')
      expect(runs).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('destroys the response of a handler whose end() Node refuses, releases the key, and keeps serving', async () => {
    let runs = 0
    const app = express()
    app.use(express.json())
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    app.post('/num', idempotent(layer), (_req, res) => {
      runs += 1
      res.status(200)
      res.end(123 as never)
    })
    const server = await startHttpServer(app)
    try {
      await expect(post(`${server.url}/num`, '"k1"')).rejects.toThrow(/fetch failed/)
      // Released: the retry runs again (and fails again), it is neither a replay nor a 409.
      await expect(post(`${server.url}/num`, '"k1"')).rejects.toThrow(/fetch failed/)
      expect(runs).toBe(2)
    } finally {
      await server.close()
    }
  })

  it('replays a stored 204 and 304 without a body or a Content-Length', async () => {
    const app = express()
    app.use(express.json())
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    app.post('/:status', idempotent(layer), (req, res) => {
      res.set('etag', '"v1"').status(Number(req.params.status)).end()
    })
    const server = await startHttpServer(app)
    try {
      for (const status of [204, 304]) {
        await post(`${server.url}/${status}`, '"k1"')
        const replay = await post(`${server.url}/${status}`, '"k1"')
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
