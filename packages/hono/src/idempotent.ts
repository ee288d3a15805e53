import type { IdempotencyLayer } from '@zerotrust/core'
import {
  captureFetchResponse,
  checkIdempotencyLayer,
  contextOf,
  type IdempotencyBegin,
  noOrigin,
  replayResponse,
  withRoute,
} from '@zerotrust/core/adapter'
import type { MiddlewareHandler } from 'hono'
import type { StatusCode } from 'hono/utils/http-status'
import { errorResponse } from './lib/context.js'
import { requestView } from './lib/request-view.js'
import type { ZeroTrustEnv } from './types.js'

/**
 * Hono middleware that applies `Idempotency-Key` semantics to a write: the first request with a key runs
 * and its response is stored; a retry gets that response again, marked `Idempotent-Replayed: true`; a
 * concurrent duplicate gets 409, the key reused with another payload 422. Mount it after
 * `authenticate()` (keys are scoped to the caller). For a request that takes part (its method is one of
 * the layer's and it has a key, or the key is required) it reads the body through `c.req.arrayBuffer()`,
 * which Hono caches, so `c.req.json()` and friends still work in the handler (`c.req.raw.body` does not);
 * bound its size with Hono's `bodyLimit()` before it.
 *
 * Keys are scoped to the matched route's pattern and parameters (`c.req.routePath`): mounted with
 * `app.use()`, or on a pattern with a wildcard (`/files/*`, whose match no parameter holds), to the path
 * as received.
 *
 * @example
 * app.post('/payments', idempotent(idempotency({ store, required: true })), createPayment)
 * @throws TypeError when `layer` is not an idempotency layer
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07
 */
export function idempotent(layer: IdempotencyLayer): MiddlewareHandler<ZeroTrustEnv> {
  checkIdempotencyLayer(layer)
  return async function zeroTrustIdempotent(c, next) {
    const context = contextOf(c)
    // In `app.use()` the pattern is `*` or `/*`; the layer refuses any pattern with an unnamed wildcard.
    const route = c.req.routePath
    const view = withRoute(
      context?.view ?? requestView(c, noOrigin),
      route === '*' || route === '/*' ? undefined : route,
      c.req.param() as Record<string, string>,
    )
    let begun: IdempotencyBegin
    try {
      begun = await layer.begin({
        req: view,
        auth: context?.auth,
        // Read only when the layer asks: after it checked the method and the key.
        body: async () =>
          c.req.raw.body === null
            ? undefined
            : { kind: 'bytes', bytes: new Uint8Array(await c.req.arrayBuffer()) },
        onDecision: context?.onDecision,
      })
    } catch (error) {
      return errorResponse(c, error, context?.realm)
    }
    if (begun.action === 'replay') {
      const { status, headers, body } = replayResponse(begun.response, c.req.method)
      // A Response of a null-body status (RFC 9110 §6.4.1) takes no body at all, not even an empty one.
      // Stored bodies live in an ArrayBuffer (memory and Redis stores alike), never a shared one.
      return c.newResponse((body ?? null) as Uint8Array<ArrayBuffer> | null, status as StatusCode, headers)
    }
    const { handle } = begun
    if (handle === undefined) {
      await next()
      return
    }
    try {
      await next()
    } catch (error) {
      // Without app.onError the error escapes compose: the handler failed, so the retry must run.
      await handle.release()
      throw error
    }
    // A handler that threw answered through app.onError: a 5xx, which releases the key. The response
    // is stored as its body streams out, before the stream closes.
    c.res = await captureFetchResponse(c.res, handle)
  }
}
