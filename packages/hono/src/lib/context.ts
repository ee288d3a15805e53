import { renderError } from '@zerotrust/core'
import { contextOf, reportRendered, toZeroTrustError } from '@zerotrust/core/adapter'
import type { Context } from 'hono'
import type { StatusCode } from 'hono/utils/http-status'

/**
 * The response of any error as core renders it: status, headers, problem+json. Built with
 * `c.newResponse` so that headers earlier middleware set with `c.header()` (CORS, request ids) stay.
 * The error is reported as one decision event under `layer` unless a layer already reported it, so
 * every answer yields one event.
 */
export function errorResponse(
  c: Context,
  error: unknown,
  realm: string | undefined,
  layer?: string,
): Response {
  const err = toZeroTrustError(error)
  reportRendered(contextOf(c), err, layer)
  const rendered = renderError(err, { realm })
  const { [expose]: exposed, ...headers } = rendered.headers
  // Appended, so a CORS middleware's own list stays.
  if (exposed !== undefined) c.header(expose, exposed, { append: true })
  return c.newResponse(rendered.body, rendered.status as StatusCode, headers)
}

const expose = 'access-control-expose-headers'

/** Sets the headers an authenticator asked for on success (`DPoP-Nonce`), exposed to CORS clients. */
export function setResponseHeaders(c: Context, headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) c.header(name, value)
  c.header(expose, Object.keys(headers).join(', '), { append: true })
}
