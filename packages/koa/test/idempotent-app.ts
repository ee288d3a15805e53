// The Koa apps the idempotent() tests share: a stand-in for a body parser, and an app around idempotent().

import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import type { TestHttpServer } from '@zerotrust/testkit'
import Koa, { type Middleware } from 'koa'
import { idempotent } from '../src/index.js'

/**
 * What `@koa/bodyparser` leaves (it is not a dependency here): for a type it parses, the parsed value
 * in `ctx.request.body` and the text in `ctx.request.rawBody`; for any other type an empty object and
 * no `rawBody`, the body left unread.
 */
export function bodyParserLike(parses: readonly ('json' | 'text')[]): Middleware {
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

/** A Koa app: the parser, idempotent(), the inner middlewares, then a handler that counts its runs. */
export function appWith(parser: Middleware, ...inner: Middleware[]) {
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

/** POSTs `body` with its content type and an Idempotency-Key. */
export const post = (server: TestHttpServer, type: string, body: string, key = '"k1"') =>
  fetch(server.url, { method: 'POST', headers: { 'content-type': type, 'idempotency-key': key }, body })
