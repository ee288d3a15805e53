import {
  type Authorizer,
  type RequireScopesOptions,
  requireScopes as scopesAuthorizer,
} from '@zerotrust/core'
import {
  type AllowedHeaders,
  checkAuthorizer,
  contextOf,
  fromNodeRequest,
  noOrigin,
  runAuthorization,
  withRoute,
} from '@zerotrust/core/adapter'
import type { Context, Middleware, Next } from 'koa'
import { sendError, setResponseHeaders } from './lib/context.js'
import { matchedRoute, stringParams } from './lib/route.js'

/**
 * Koa middleware that asks `authorizer` about the authenticated request. A denial is answered at once
 * (403, with the challenge core renders); an allow's response headers (`RateLimit`) are set. Mounted without `authenticate()` before it, it fails closed
 * with a 500.
 *
 * @example
 * router.get('/orders/:id', authorize(cedarAuthorizer({ policies })), getOrder)
 * @throws TypeError when `authorizer` is not an authorizer
 */
export function authorize(authorizer: Authorizer): Middleware {
  checkAuthorizer(authorizer)
  return function zeroTrustAuthorize(ctx, next) {
    const context = contextOf(ctx)
    const base =
      context?.view ?? fromNodeRequest(ctx.req, { resolveOrigin: noOrigin, target: ctx.originalUrl })
    // Route-level authorizers (Cedar actions) see the matched pattern and parameters, never only the path.
    const view = withRoute(base, matchedRoute(ctx), stringParams((ctx as { params?: unknown }).params))
    const answer = runAuthorization(authorizer, view, context?.auth, context?.onDecision)
    // An authorizer that decides at once (scopes, a decision-cache hit) adds no promise of ours.
    if (!(answer instanceof Promise)) return allowed(ctx, next, answer)
    return answer.then(
      (headers) => allowed(ctx, next, headers),
      (error: unknown) => {
        sendError(ctx, error, context?.realm)
      },
    )
  }
}

function allowed(ctx: Context, next: Next, headers: AllowedHeaders): Promise<unknown> {
  if (headers !== undefined) setResponseHeaders(ctx, headers)
  return next()
}

/**
 * Koa middleware requiring scopes of the token: 403 `insufficient_scope` naming them otherwise.
 *
 * @example
 * router.post('/orders', requireScopes('orders:write'), createOrder)
 * @throws TypeError when `scopes` is empty or holds anything but scope tokens
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function requireScopes(
  scopes: string | readonly string[],
  options?: RequireScopesOptions,
): Middleware {
  return authorize(scopesAuthorizer(scopes, options))
}
