import { renderError } from '@zerotrust/core'
import { contextOf, exposeHeaders, reportRendered, toZeroTrustError } from '@zerotrust/core/adapter'
import type { ParameterizedContext } from 'koa'

/**
 * Writes any error as core renders it: status, headers, problem+json. Headers are set before the body,
 * so Koa keeps the problem+json content type instead of guessing `text/plain`. The error is reported as
 * one decision event under `layer` unless a layer already reported it, so every answer yields one event.
 */
export function sendError(
  ctx: ParameterizedContext,
  error: unknown,
  realm: string | undefined,
  layer?: string,
): void {
  const err = toZeroTrustError(error)
  reportRendered(contextOf(ctx), err, layer)
  // What a CORS middleware already exposed stays in the list.
  const rendered = renderError(err, { realm, exposed: ctx.response.get(expose) })
  ctx.status = rendered.status
  ctx.set(rendered.headers)
  ctx.body = rendered.body
}

const expose = 'access-control-expose-headers'

/** Sets the headers an authenticator asked for on success (`DPoP-Nonce`), exposed to CORS clients. */
export function setResponseHeaders(
  ctx: ParameterizedContext,
  headers: Readonly<Record<string, string>>,
): void {
  ctx.set(headers)
  ctx.set(expose, exposeHeaders(ctx.response.get(expose), Object.keys(headers)))
}
