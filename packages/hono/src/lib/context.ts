import { renderError } from '@zerotrust/core'
import type { Context } from 'hono'
import type { StatusCode } from 'hono/utils/http-status'

/**
 * The response of any error as core renders it: status, headers, problem+json. Built with
 * `c.newResponse` so that headers earlier middleware set with `c.header()` (CORS, request ids) stay.
 */
export function errorResponse(c: Context, error: unknown, realm: string | undefined): Response {
  const rendered = renderError(error, { realm })
  return c.newResponse(rendered.body, rendered.status as StatusCode, rendered.headers)
}
