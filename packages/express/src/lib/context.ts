import { exposeHeaders, renderError } from '@zerotrust/core'
import type { Response } from 'express'

const expose = 'access-control-expose-headers'

/** Sends any error as core renders it: status, headers, problem+json. */
export function sendError(res: Response, error: unknown, realm: string | undefined): void {
  const rendered = renderError(error, { realm })
  const exposed = rendered.headers[expose]
  // Keep what a CORS middleware already exposed: read before the rendered headers replace it.
  const before = res.getHeader(expose)
  res.status(rendered.status).set(rendered.headers)
  if (exposed !== undefined) res.set(expose, exposeHeaders(before, exposed.split(', ')))
  res.send(rendered.body)
}

/** Sets the headers an authenticator asked for on success (`DPoP-Nonce`), exposed to CORS clients. */
export function setResponseHeaders(res: Response, headers: Readonly<Record<string, string>>): void {
  res.set(headers)
  res.set(expose, exposeHeaders(res.getHeader(expose), Object.keys(headers)))
}
