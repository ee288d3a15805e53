import type { IdempotencyLayer } from '@zerotrust/core'
import {
  captureNodeResponse,
  checkIdempotencyLayer,
  contextOf,
  fromNodeRequest,
  type IdempotencyBegin,
  noOrigin,
  parsedBody,
  type RequestBody,
  replayResponse,
  withRoute,
} from '@zerotrust/core/adapter'
import type { Middleware } from 'koa'
import { sendError } from './lib/context.js'
import { stringParams, wholeRoute } from './lib/route.js'

// koa-body keeps the text it parsed here when `includeUnparsed` is set.
const unparsedBody = Symbol.for('unparsedBody')

/** What body parsers leave on `ctx.request`. */
interface KoaRequestBody {
  readonly body?: unknown
  readonly rawBody?: unknown
}

/**
 * The body for the fingerprint: the text the parser read (`ctx.request.rawBody` of `@koa/bodyparser`,
 * the unparsed body of koa-body), else the parsed value. Parsers leave an empty object for a content
 * type they do not parse, so an empty object without that text counts as a body left unparsed: a
 * request that announces one is refused with 415 (its payload was never read), it is never
 * fingerprinted as `{}`. No `ctx.request.body` at all means no parser ran: a request with a body then
 * fails closed with 500 (the route is misconfigured).
 */
function koaBody(request: KoaRequestBody): RequestBody | undefined {
  const { body, rawBody } = request
  const raw =
    typeof rawBody === 'string'
      ? rawBody
      : typeof body === 'object' && body !== null
        ? (body as Record<symbol, unknown>)[unparsedBody]
        : undefined
  if (typeof raw === 'string') return { kind: 'bytes', bytes: Buffer.from(raw) }
  if (isEmptyObject(body)) return unparsed
  return parsedBody(body)
}

const unparsed: RequestBody = Object.freeze({ kind: 'unparsed' })

function isEmptyObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  if (value instanceof Uint8Array) return false
  const proto = Object.getPrototypeOf(value)
  return (proto === Object.prototype || proto === null) && Reflect.ownKeys(value).length === 0
}

/**
 * Koa middleware that applies `Idempotency-Key` semantics to a write: the first request with a key runs
 * and its response is stored; a retry gets that response again, marked `Idempotent-Replayed: true`; a
 * concurrent duplicate gets 409, the key reused with another payload 422. Mount it after
 * `authenticate()` (keys are scoped to the caller) and after a body parser that sets
 * `ctx.request.body` (the payload is part of the fingerprint). The text the parser read
 * (`ctx.request.rawBody`) is fingerprinted when present. A body the parser left unread for its content
 * type (an empty object) is refused with 415; a body no parser saw (no `ctx.request.body`) fails
 * closed with 500.
 *
 * Mounted on a route of @koa/router, keys are scoped to the route's pattern and parameters: `/orders/`
 * and `/Orders`, which the router matches to one route, share a key. Mounted with `app.use()` or
 * `router.use()`, it sees no whole route and scopes keys to the path as received.
 *
 * @example
 * router.post('/payments', bodyParser(), idempotent(idempotency({ store, required: true })), createPayment)
 * @throws TypeError when `layer` is not an idempotency layer
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07
 */
export function idempotent(layer: IdempotencyLayer): Middleware {
  checkIdempotencyLayer(layer)
  return async function zeroTrustIdempotent(ctx, next) {
    const context = contextOf(ctx)
    const base =
      context?.view ?? fromNodeRequest(ctx.req, { resolveOrigin: noOrigin, target: ctx.originalUrl })
    let begun: IdempotencyBegin
    try {
      begun = await layer.begin({
        req: withRoute(base, wholeRoute(ctx), stringParams((ctx as { params?: unknown }).params)),
        auth: context?.auth,
        body: koaBody(ctx.request as KoaRequestBody),
        onDecision: context?.onDecision,
      })
    } catch (error) {
      sendError(ctx, error, context?.realm)
      return
    }
    if (begun.action === 'replay') {
      const { status, headers, body } = replayResponse(begun.response, ctx.method)
      ctx.status = status
      ctx.set(headers)
      // A status that carries no body (RFC 9110 §6.4.1): null also drops the Content-Length.
      ctx.body = body === undefined ? null : Buffer.from(body)
      return
    }
    const { handle } = begun
    // Captured where Koa writes the response (after every middleware returned, errors included).
    if (handle !== undefined) captureNodeResponse(ctx.res, handle)
    await next()
  }
}
