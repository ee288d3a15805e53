import {
  type Authorizer,
  checkAuthorizer,
  contextOf,
  fromNodeRequest,
  noOrigin,
  type RequireScopesOptions,
  runAuthorization,
  requireScopes as scopesAuthorizer,
  withRoute,
} from '@zerotrust/core'
import type { Context, Middleware } from 'koa'
import { sendError } from './lib/context.js'

/**
 * Koa middleware that asks `authorizer` about the authenticated request. A denial is answered at once
 * (403, with the challenge core renders). Mounted without `authenticate()` before it, it fails closed
 * with a 500.
 *
 * @example
 * router.get('/orders/:id', authorize(cedarAuthorizer({ policies })), getOrder)
 * @throws TypeError when `authorizer` is not an authorizer
 */
export function authorize(authorizer: Authorizer): Middleware {
  checkAuthorizer(authorizer)
  return async function zeroTrustAuthorize(ctx, next) {
    const context = contextOf(ctx)
    const base =
      context?.view ?? fromNodeRequest(ctx.req, { resolveOrigin: noOrigin, target: ctx.originalUrl })
    // Route-level authorizers (Cedar actions) see the matched pattern and parameters, never only the path.
    const view = withRoute(base, matchedRoute(ctx), stringParams((ctx as { params?: unknown }).params))
    try {
      await runAuthorization(authorizer, view, context?.auth, context?.onDecision)
    } catch (error) {
      sendError(ctx, error, context?.realm)
      return
    }
    await next()
  }
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

// @koa/router sets `ctx._matchedRoute` (the pattern, with the router's prefix) and `ctx.params` before
// a route's middleware runs; a route defined by a RegExp has no pattern to name.
function matchedRoute(ctx: Context): string | undefined {
  const route: unknown = (ctx as { _matchedRoute?: unknown })._matchedRoute
  return typeof route === 'string' ? route : undefined
}

function stringParams(params: unknown): Record<string, string> | undefined {
  if (typeof params !== 'object' || params === null) return undefined
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string') out[name] = value
  return out
}
