import {
  type Authorizer,
  type RequireScopesOptions,
  requireScopes as scopesAuthorizer,
} from '@zerotrust/core'
import {
  type AllowedHeaders,
  checkAuthorizer,
  contextOf,
  noOrigin,
  runAuthorization,
  withRoute,
} from '@zerotrust/core/adapter'
import type { Context, MiddlewareHandler, Next } from 'hono'
import { errorResponse, setResponseHeaders } from './lib/context.js'
import { requestView } from './lib/request-view.js'
import type { ZeroTrustEnv } from './types.js'

/**
 * Hono middleware that asks `authorizer` about the authenticated request. A denial is answered at once
 * (403, with the challenge core renders); an allow's response headers (`RateLimit`) are set. Mounted without `authenticate()` before it, it fails closed
 * with a 500.
 *
 * @example
 * app.get('/orders/:id', authorize(cedarAuthorizer({ policies })), getOrder)
 * @throws TypeError when `authorizer` is not an authorizer
 */
export function authorize(authorizer: Authorizer): MiddlewareHandler<ZeroTrustEnv> {
  checkAuthorizer(authorizer)
  return function zeroTrustAuthorize(c, next) {
    const context = contextOf(c)
    // Route-level authorizers (Cedar actions) see the matched pattern and parameters, never only the path.
    // In `app.use('*', …)` the pattern is `*` or `/*`: no route has matched yet.
    const route = c.req.routePath
    const view = withRoute(
      context?.view ?? requestView(c, noOrigin),
      route === '*' || route === '/*' ? undefined : route,
      c.req.param() as Record<string, string>,
    )
    // Without authenticate() before it there is no context and no auth: runAuthorization fails closed.
    const answer = runAuthorization(authorizer, view, context?.auth, context?.onDecision)
    // An authorizer that decides at once (scopes, a decision-cache hit) adds no promise of ours.
    if (!(answer instanceof Promise)) return allowed(c, next, answer)
    return answer.then(
      (headers) => allowed(c, next, headers),
      (error: unknown) => errorResponse(c, error, context?.realm),
    )
  }
}

function allowed(c: Context<ZeroTrustEnv>, next: Next, headers: AllowedHeaders): Promise<void> {
  if (headers !== undefined) setResponseHeaders(c, headers)
  return next()
}

/**
 * Hono middleware requiring scopes of the token: 403 `insufficient_scope` naming them otherwise.
 *
 * @example
 * app.post('/orders', requireScopes('orders:write'), createOrder)
 * @throws TypeError when `scopes` is empty or holds anything but scope tokens
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function requireScopes(
  scopes: string | readonly string[],
  options?: RequireScopesOptions,
): MiddlewareHandler<ZeroTrustEnv> {
  return authorize(scopesAuthorizer(scopes, options))
}
