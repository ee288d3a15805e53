import { isZeroTrustError } from '@zerotrust/core'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { sendError } from './context.js'

/** A route's `errorHandler`, as Fastify's route options type it. */
export type RouteErrorHandler = NonNullable<RouteOptions['errorHandler']>

/**
 * The error handler the plugin gives each route: renders a `ZeroTrustError` (thrown by the handler or a
 * hook) as core does, and hands every other error to the route's own error handler or, rethrown, to the
 * error handler of the route's scope (yours, or Fastify's default). It leaves `setErrorHandler()` to you.
 * A rendered error is reported as one decision event (layer `handler`) unless a layer already reported it.
 */
export function errorHandler(
  own: RouteErrorHandler | undefined,
  realm: string | undefined,
): RouteErrorHandler {
  return function zeroTrustErrorHandler(this: FastifyInstance, error, request, reply) {
    // Once headers are out the response cannot change: the next handler (or Fastify) closes it.
    if (isZeroTrustError(error) && !reply.sent && !reply.raw.headersSent) {
      sendError(reply, error, realm)
      return
    }
    if (own === undefined) throw error
    return own.call(this, error, request, reply)
  }
}
