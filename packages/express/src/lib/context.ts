import { type DecisionSink, type RequestLike, renderError } from '@zerotrust/core'
import type { Response } from 'express'

/** What `authenticate()` leaves for the middleware after it on the same request. */
export interface RequestContext {
  readonly view: RequestLike
  readonly onDecision: DecisionSink | undefined
  readonly realm: string | undefined
}

/** Per-request context, keyed by the request object so that nothing leaks between requests. */
export const contexts: WeakMap<object, RequestContext> = new WeakMap()

/** Sends any error as core renders it: status, headers, problem+json. */
export function sendError(res: Response, error: unknown, realm: string | undefined): void {
  const rendered = renderError(error, realm === undefined ? {} : { realm })
  res.status(rendered.status).set(rendered.headers).send(rendered.body)
}
