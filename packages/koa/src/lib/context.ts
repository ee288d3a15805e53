import { renderError } from '@zerotrust/core'
import type { ParameterizedContext } from 'koa'

/**
 * Writes any error as core renders it: status, headers, problem+json. Headers are set before the body,
 * so Koa keeps the problem+json content type instead of guessing `text/plain`.
 */
export function sendError(ctx: ParameterizedContext, error: unknown, realm: string | undefined): void {
  const rendered = renderError(error, { realm })
  ctx.status = rendered.status
  ctx.set(rendered.headers)
  ctx.body = rendered.body
}
