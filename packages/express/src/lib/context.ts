import { renderError } from '@zerotrust/core'
import { contextOf, exposeHeaders, reportRendered, toZeroTrustError } from '@zerotrust/core/adapter'
import type { Response } from 'express'

const expose = 'access-control-expose-headers'

/**
 * Sends any error as core renders it: status, headers, problem+json. The error is reported as one
 * decision event under `layer` unless a layer already reported it, so every answer yields one event.
 */
export function sendError(res: Response, error: unknown, realm: string | undefined, layer?: string): void {
  const err = toZeroTrustError(error)
  reportRendered(contextOf(res.req), err, layer)
  // What a CORS middleware already exposed stays in the list.
  const rendered = renderError(err, { realm, exposed: res.getHeader(expose) })
  // Node's writeHead, not Express's set()/send(): those append `; charset=utf-8` and an ETag, and an
  // error must leave every adapter as the same bytes (issue 20).
  res.writeHead(rendered.status, rendered.headers).end(rendered.body)
}

/** Sets the headers an authenticator asked for on success (`DPoP-Nonce`), exposed to CORS clients. */
export function setResponseHeaders(res: Response, headers: Readonly<Record<string, string>>): void {
  res.set(headers)
  res.set(expose, exposeHeaders(res.getHeader(expose), Object.keys(headers)))
}
