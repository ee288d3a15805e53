import { type AdapterContext, renderError } from '@zerotrust/core'
import type { Response } from 'express'

/** Per-request context, keyed by the request object so that nothing leaks between requests. */
export const contexts: WeakMap<object, AdapterContext> = new WeakMap()

/** Sends any error as core renders it: status, headers, problem+json. */
export function sendError(res: Response, error: unknown, realm: string | undefined): void {
  const rendered = renderError(error, { realm })
  res.status(rendered.status).set(rendered.headers).send(rendered.body)
}
