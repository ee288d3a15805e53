import { isZeroTrustError } from '@zerotrust/core'
import { checkRealm, contextOf } from '@zerotrust/core/adapter'
import type { Middleware } from 'koa'
import { sendError } from './lib/context.js'

/** Options of {@link errorHandler}. */
export interface ErrorHandlerOptions {
  /** The `realm` of challenges that do not name one. */
  readonly realm?: string
}

/**
 * Koa middleware that renders a `ZeroTrustError` thrown downstream (for example by a handler that
 * checks ownership) as core does; every other error is rethrown to the middleware above it and to Koa.
 * The rendered error is reported to the `onDecision` sink of `authenticate()` as one decision event
 * (layer `handler`), unless a layer already reported it.
 * Mount it first, before `authenticate()`.
 *
 * @example
 * app.use(errorHandler())
 * app.use(authenticate(tokens))
 * @throws TypeError when `realm` is not a string
 */
export function errorHandler(options: ErrorHandlerOptions = {}): Middleware {
  const realm = checkRealm(options.realm)
  return async function zeroTrustErrorHandler(ctx, next) {
    try {
      await next()
    } catch (error) {
      // Once headers are out the response cannot change: Koa's own handler closes the connection.
      if (!isZeroTrustError(error) || ctx.headerSent) throw error
      sendError(ctx, error, contextOf(ctx)?.realm ?? realm)
    }
  }
}
