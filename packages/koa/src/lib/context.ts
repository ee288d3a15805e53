import { type DecisionSink, type RequestLike, renderError } from '@zerotrust/core'
import type { ParameterizedContext } from 'koa'

/** What `authenticate()` leaves for the middleware after it on the same request. */
export interface RequestContext {
  readonly view: RequestLike
  readonly onDecision: DecisionSink | undefined
  readonly realm: string | undefined
}

/** Per-request context, keyed by the Koa context so that nothing leaks between requests. */
export const contexts: WeakMap<object, RequestContext> = new WeakMap()

/**
 * Writes any error as core renders it: status, headers, problem+json. Headers are set before the body,
 * so Koa keeps the problem+json content type instead of guessing `text/plain`.
 */
export function sendError(ctx: ParameterizedContext, error: unknown, realm: string | undefined): void {
  const rendered = renderError(error, realm === undefined ? {} : { realm })
  ctx.status = rendered.status
  ctx.set(rendered.headers)
  ctx.body = rendered.body
}
