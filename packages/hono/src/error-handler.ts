import { isZeroTrustError } from '@zerotrust/core'
import { checkRealm, contextOf, optionError } from '@zerotrust/core/adapter'
import type { Context, ErrorHandler } from 'hono'
import type { HTTPResponseError } from 'hono/types'
import { errorResponse } from './lib/context.js'

/** Options of {@link errorHandler}. */
export interface ErrorHandlerOptions {
  /** The `realm` of challenges that do not name one. */
  readonly realm?: string
  /**
   * Answers every error that is not a `ZeroTrustError`. Hono's own behaviour by default: an
   * `HTTPException` answers with its response, anything else is logged and answered with a plain 500.
   */
  readonly fallback?: ErrorHandler
}

/**
 * A Hono error handler for `app.onError` that renders a `ZeroTrustError` thrown by a handler (for
 * example one that checks ownership) as core does, and hands every other error to `fallback`. The
 * rendered error is reported to the `onDecision` sink of `authenticate()` as one decision event (layer
 * `handler`), unless a layer already reported it.
 *
 * @example
 * app.onError(errorHandler())
 * app.onError(errorHandler({ fallback: (err, c) => c.json({ message: 'internal error' }, 500) }))
 * @throws TypeError naming the option when an option is invalid
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorHandler {
  const realm = checkRealm(options.realm)
  if (options.fallback !== undefined && typeof options.fallback !== 'function') {
    throw optionError('errorHandler', 'fallback', 'must be a function')
  }
  const { fallback = honoDefault } = options
  return function zeroTrustErrorHandler(error, c) {
    if (!isZeroTrustError(error)) return fallback(error, c)
    return errorResponse(c, error, contextOf(c)?.realm ?? realm)
  }
}

/** What Hono answers when an app sets no error handler. */
function honoDefault(error: Error | HTTPResponseError, c: Context): Response {
  if ('getResponse' in error && typeof error.getResponse === 'function') {
    const response = error.getResponse()
    return c.newResponse(response.body, response)
  }
  console.error(error)
  return c.text('Internal Server Error', 500)
}
