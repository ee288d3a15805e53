import {
  captureNodeResponse,
  checkIdempotencyLayer,
  contextOf,
  fromNodeRequest,
  type IdempotencyBegin,
  type IdempotencyLayer,
  noOrigin,
  parsedBody,
  type StoredResponse,
} from '@zerotrust/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { sendError } from './lib/context.js'

/**
 * Express middleware that applies `Idempotency-Key` semantics to a write: the first request with a key
 * runs and its response is stored; a retry gets that response again, marked `Idempotent-Replayed:
 * true`; a concurrent duplicate gets 409, the key reused with another payload 422. Mount it after
 * `authenticate()` (keys are scoped to the caller) and after the body parser (the payload is part of the
 * fingerprint): a request whose body no parser read fails closed.
 *
 * @example
 * app.post('/payments', express.json(), idempotent(idempotency({ store, required: true })), createPayment)
 * @throws TypeError when `layer` is not an idempotency layer
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07
 */
export function idempotent(layer: IdempotencyLayer): RequestHandler {
  checkIdempotencyLayer(layer)
  return async function zeroTrustIdempotent(req: Request, res: Response, next: NextFunction) {
    const context = contextOf(req)
    const view = context?.view ?? fromNodeRequest(req, { resolveOrigin: noOrigin, target: req.originalUrl })
    let begun: IdempotencyBegin
    try {
      begun = await layer.begin({
        req: view,
        auth: context?.auth,
        body: parsedBody(req.body),
        onDecision: context?.onDecision,
      })
    } catch (error) {
      sendError(res, error, context?.realm)
      return
    }
    if (begun.action === 'replay') {
      sendStored(res, begun.response)
      return
    }
    if (begun.handle !== undefined) captureNodeResponse(res, begun.handle)
    next()
  }
}

function sendStored(res: Response, stored: StoredResponse): void {
  res.status(stored.status)
  for (const [name, value] of Object.entries(stored.headers)) res.setHeader(name, value)
  if (stored.status === 204 || stored.status === 304) {
    // No body and no Content-Length (RFC 9110 §8.6): Node sends none for these statuses.
    res.end()
    return
  }
  res.setHeader('content-length', stored.body.byteLength)
  res.end(stored.body)
}
