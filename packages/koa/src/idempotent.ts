import {
  captureNodeResponse,
  checkIdempotencyLayer,
  contextOf,
  fromNodeRequest,
  type IdempotencyBegin,
  type IdempotencyLayer,
  noOrigin,
  parsedBody,
} from '@zerotrust/core'
import type { Middleware } from 'koa'
import { sendError } from './lib/context.js'

/**
 * Koa middleware that applies `Idempotency-Key` semantics to a write: the first request with a key runs
 * and its response is stored; a retry gets that response again, marked `Idempotent-Replayed: true`; a
 * concurrent duplicate gets 409, the key reused with another payload 422. Mount it after
 * `authenticate()` (keys are scoped to the caller) and after a body parser that sets
 * `ctx.request.body` (the payload is part of the fingerprint): a request whose body no parser read
 * fails closed.
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
    const view =
      context?.view ?? fromNodeRequest(ctx.req, { resolveOrigin: noOrigin, target: ctx.originalUrl })
    let begun: IdempotencyBegin
    try {
      begun = await layer.begin({
        req: view,
        auth: context?.auth,
        body: parsedBody((ctx.request as { body?: unknown }).body),
        onDecision: context?.onDecision,
      })
    } catch (error) {
      sendError(ctx, error, context?.realm)
      return
    }
    if (begun.action === 'replay') {
      const stored = begun.response
      ctx.status = stored.status
      for (const [name, value] of Object.entries(stored.headers)) {
        ctx.set(name, typeof value === 'string' ? value : [...value])
      }
      ctx.body = Buffer.from(stored.body)
      return
    }
    const { handle } = begun
    // Captured where Koa writes the response (after every middleware returned, errors included).
    if (handle !== undefined) captureNodeResponse(ctx.res, handle)
    await next()
  }
}
