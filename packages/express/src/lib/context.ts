import { exposeHeaders, renderError } from '@zerotrust/core'
import type { Response } from 'express'

const expose = 'access-control-expose-headers'

/** Sends any error as core renders it: status, headers, problem+json. */
export function sendError(res: Response, error: unknown, realm: string | undefined): void {
  // What a CORS middleware already exposed stays in the list.
  const rendered = renderError(error, { realm, exposed: res.getHeader(expose) })
  res.status(rendered.status).set(rendered.headers).send(rendered.body)
}

/** Sets the headers an authenticator asked for on success (`DPoP-Nonce`), exposed to CORS clients. */
export function setResponseHeaders(res: Response, headers: Readonly<Record<string, string>>): void {
  res.set(headers)
  res.set(expose, exposeHeaders(res.getHeader(expose), Object.keys(headers)))
}
