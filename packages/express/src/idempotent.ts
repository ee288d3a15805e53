import type { IdempotencyLayer } from '@zerotrust/core'
import {
  captureNodeResponse,
  checkIdempotencyLayer,
  contextOf,
  fromNodeRequest,
  type IdempotencyBegin,
  noOrigin,
  parsedBody,
  type Replay,
  replayResponse,
  withRoute,
} from '@zerotrust/core/adapter'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { sendError } from './lib/context.js'
import { checkMountPath, routePattern } from './lib/route.js'

/** Options of {@link idempotent}. */
export interface IdempotentOptions {
  /**
   * The pattern this route's router is mounted at, such as `/tenants/:tenant` for
   * `app.use('/tenants/:tenant', router)`. Keys are scoped to the matched route and its parameters; a
   * route inside a mounted router has a pattern only with this option (and its parameters only with the
   * router's `mergeParams`), and is scoped to the path as received otherwise.
   */
  readonly mountPath?: string
}

/**
 * Express middleware that applies `Idempotency-Key` semantics to a write: the first request with a key
 * runs and its response is stored; a retry gets that response again, marked `Idempotent-Replayed:
 * true`; a concurrent duplicate gets 409, the key reused with another payload 422. Mount it after
 * `authenticate()` (keys are scoped to the caller) and after the body parser (the payload is part of the
 * fingerprint).
 *
 * Mounted on a route (`app.post('/orders', …, idempotent(layer), …)`), keys are scoped to the route's
 * pattern and parameters: `/orders/` and `/Orders`, which Express's router matches to one route, share a
 * key. Mounted with `app.use()`, it sees no route and scopes keys to the path as received.
 *
 * A body the parser left unread because of its media type (a `text/plain` body before `express.json()`)
 * is refused with 415; a body no parser saw at all (none mounted before it) fails closed with 500, as
 * every request with a body would.
 *
 * @example
 * app.post('/payments', express.json(), idempotent(idempotency({ store, required: true })), createPayment)
 * router.post('/refunds', express.json(), idempotent(writes, { mountPath: '/orders/:orderId' }), refund)
 * @throws TypeError when `layer` is not an idempotency layer or `mountPath` is not a path pattern
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07
 */
export function idempotent(layer: IdempotencyLayer, options: IdempotentOptions = {}): RequestHandler {
  checkIdempotencyLayer(layer)
  const mountPath = checkMountPath('idempotent', options?.mountPath)
  return async function zeroTrustIdempotent(req: Request, res: Response, next: NextFunction) {
    const context = contextOf(req)
    const base = context?.view ?? fromNodeRequest(req, { resolveOrigin: noOrigin, target: req.originalUrl })
    let begun: IdempotencyBegin
    try {
      begun = await layer.begin({
        req: withRoute(base, routePattern(req, mountPath), scopeParams(req.params)),
        auth: context?.auth,
        // body-parser sets `req.body` on every request it sees, to undefined for a body it skips: a body
        // left unread by a parser that ran is the client's media type, not a route without a parser.
        body: parsedBody(req.body, 'body' in req),
        onDecision: context?.onDecision,
      })
    } catch (error) {
      sendError(res, error, context?.realm)
      return
    }
    if (begun.action === 'replay') {
      sendReplay(res, replayResponse(begun.response, req.method))
      return
    }
    if (begun.handle !== undefined) captureNodeResponse(res, begun.handle)
    next()
  }
}

// A wildcard's segments (`/*splat`) as a JSON array, not joined: `/files/a/b` and `/files/a%2Fb` are two
// resources, and one key must not serve both.
function scopeParams(params: Request['params'] | undefined): Record<string, string> | undefined {
  if (params === undefined) return undefined
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    if (typeof value === 'string') out[name] = value
    else if (Array.isArray(value)) out[name] = JSON.stringify(value)
  }
  return out
}

function sendReplay(res: Response, replay: Replay): void {
  res.status(replay.status)
  for (const [name, value] of Object.entries(replay.headers)) res.setHeader(name, value)
  if (replay.body === undefined) {
    // A status that carries no body (RFC 9110 §6.4.1): no Content-Length of ours either (§8.6).
    res.end()
    return
  }
  res.setHeader('content-length', replay.body.byteLength)
  res.end(replay.body)
}
