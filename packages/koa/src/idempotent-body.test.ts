// The idempotency behaviour every adapter shares runs in the conformance suite (packages/conformance);
// what is left here is Koa's own: the body comes from `ctx.request.body`, which only a body parser sets.
// The 415 and the fingerprint of parsed text guard findings of the security review of idempotent().
import Router from '@koa/router'
// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { startHttpServer } from '@zerotrust/testkit'
import Koa, { type Middleware } from 'koa'
import { describe, expect, it } from 'vitest'
import { appWith, bodyParserLike, post } from '../test/idempotent-app.js'
import { idempotent } from './index.js'

describe('idempotent() on Koa: the body a parser read', () => {
  it('fails closed with 500 when no body parser set ctx.request.body, and the handler never runs', async () => {
    let runs = 0
    const app = new Koa()
    app.silent = true
    const router = new Router()
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    router.post('/unparsed', idempotent(layer), (ctx) => {
      runs += 1
      ctx.status = 201
    })
    app.use(router.routes())
    const server = await startHttpServer(app.callback())
    try {
      const res = await fetch(`${server.url}/unparsed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': '"k1"' },
        body: '{"amount":5}',
      })
      expect(res.status).toBe(500)
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      expect(await res.json()).toMatchObject({ code: 'internal_error' })
      expect(runs).toBe(0)
    } finally {
      await server.close()
    }
  })

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
})
