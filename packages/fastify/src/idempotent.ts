import type { IdempotencyLayer } from '@zerotrust/core'
import {
  captureNodeResponse,
  checkIdempotencyLayer,
  fromNodeRequest,
  type IdempotencyBegin,
  noOrigin,
  parsedBody,
  replayResponse,
} from '@zerotrust/core/adapter'
import { routedView, type ZeroTrustHook } from './authorize.js'
import { sendError, stateOf } from './lib/context.js'

/**
 * A `preHandler` hook that applies `Idempotency-Key` semantics to a route: the first request with a
 * key runs and its response is stored; a retry gets that response again, marked `Idempotent-Replayed:
 * true`; a concurrent duplicate gets 409, the key reused with another payload 422. It runs after the
 * zerotrust plugin authenticated the request (keys are scoped to the caller) and after Fastify parsed
 * the body (the payload is part of the fingerprint). Keys are scoped to the route's pattern and
 * parameters (a pattern with a wildcard, to the path as received). Fastify itself answers 415 for a
 * media type it has no parser for; as an `onRequest` hook, before any parsing, a request with a body
 * fails closed with 500.
 *
 * @example
 * app.post('/payments', { preHandler: idempotent(idempotency({ store, required: true })) }, createPayment)
 * @throws TypeError when `layer` is not an idempotency layer
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07
 */
export function idempotent(layer: IdempotencyLayer): ZeroTrustHook {
  checkIdempotencyLayer(layer)
  return async function zeroTrustIdempotent(request, reply) {
    const state = stateOf(request)
    // Keys are scoped to the route's pattern and parameters, as Fastify matched them.
    const view = routedView(
      state?.view ?? fromNodeRequest(request.raw, { resolveOrigin: noOrigin, target: request.originalUrl }),
      request,
    )
    let begun: IdempotencyBegin
    try {
      begun = await layer.begin({
        req: view,
        auth: state?.auth,
        body: parsedBody(request.body),
        onDecision: state?.onDecision,
      })
    } catch (error) {
      return sendError(reply, error, state?.realm)
    }
    if (begun.action === 'replay') {
      const { status, headers, body } = replayResponse(begun.response, request.method)
      reply.headers(headers)
      reply.code(status)
      // A status that carries no body (RFC 9110 §6.4.1): no body and no Content-Length (§8.6).
      if (body === undefined) return reply.send()
      return reply.send(Buffer.from(body.buffer, body.byteOffset, body.byteLength))
    }
    // Captured where every Fastify reply ends, Node's response: serialized bodies and streams alike.
    if (begun.handle !== undefined) captureNodeResponse(reply.raw, begun.handle)
    return undefined
  }
}
