import { isZeroTrustError } from '@zerotrust/core'
import { checkRealm, contextOf } from '@zerotrust/core/adapter'
import type { ErrorRequestHandler } from 'express'
import { sendError } from './lib/context.js'

/** Options of {@link errorHandler}. */
export interface ErrorHandlerOptions {
  /** The `realm` of challenges that do not name one. */
  readonly realm?: string
}

/**
 * An Express error handler that renders a `ZeroTrustError` thrown anywhere in a route (for example by a
 * handler that checks ownership) as core does; every other error goes on to the next handler. The
 * rendered error is reported to the `onDecision` sink of `authenticate()` as one decision event (layer
 * `handler`), unless a layer already reported it.
 *
 * @example
 * app.use(errorHandler())
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  const realm = checkRealm(options.realm)
  return function zeroTrustErrorHandler(error, req, res, next) {
    if (!isZeroTrustError(error) || res.headersSent) {
      next(error)
      return
    }
    sendError(res, error, contextOf(req)?.realm ?? realm)
  }
}
