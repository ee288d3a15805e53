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
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { sendError, setResponseHeaders } from './lib/context.js'
import { checkMountPath, routeParams, routePattern } from './lib/route.js'

/** Options of {@link authorize}. */
export interface AuthorizeOptions {
  /**
   * The pattern this route's router is mounted at, such as `/tenants/:tenant` for
   * `app.use('/tenants/:tenant', router)`. Express keeps only the path the request matched there
   * (`req.baseUrl`, in the client's case and with parameter values), so without this option a route
   * inside a mounted router has no pattern, and an authorizer that needs one (Cedar) fails closed.
   */
  readonly mountPath?: string
}

/**
 * Express middleware that asks `authorizer` about the authenticated request. A denial is answered at
 * once (403, with the challenge core renders); an allow's response headers (`RateLimit`) are set. Mounted without `authenticate()` before it, it fails
 * closed with a 500. On a route, the authorizer sees the route's pattern and parameters.
 *
 * @example
 * app.get('/orders/:id', authorize(cedarAuthorizer({ policies })), getOrder)
 * router.post('/refunds', authorize(policies, { mountPath: '/orders/:orderId' }), refund)
 * @throws TypeError when `authorizer` is not an authorizer or `mountPath` is not a path pattern
 */
export function authorize(authorizer: Authorizer, options: AuthorizeOptions = {}): RequestHandler {
  checkAuthorizer(authorizer)
  const mountPath = checkMountPath('authorize', options?.mountPath)
  return function zeroTrustAuthorize(req: Request, res: Response, next: NextFunction) {
    const context = contextOf(req)
    const base = context?.view ?? fromNodeRequest(req, { resolveOrigin: noOrigin, target: req.originalUrl })
    // Route-level authorizers (Cedar actions) see the matched pattern and parameters, never only the path.
    const view = withRoute(base, routePattern(req, mountPath), routeParams(req.params))
    const answer = runAuthorization(authorizer, view, context?.auth, context?.onDecision)
    // An authorizer that decides at once (scopes, a decision-cache hit) lets `next()` run without a promise.
    if (!(answer instanceof Promise)) return allowed(res, next, answer)
    return answer.then(
      (headers) => allowed(res, next, headers),
      (error: unknown) => {
        sendError(res, error, context?.realm)
      },
    )
  }
}

function allowed(res: Response, next: NextFunction, headers: AllowedHeaders): void {
  if (headers !== undefined) setResponseHeaders(res, headers)
  next()
}

/**
 * Express middleware requiring scopes of the token: 403 `insufficient_scope` naming them otherwise.
 *
 * @example
 * app.post('/orders', requireScopes('orders:write'), createOrder)
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function requireScopes(
  scopes: string | readonly string[],
  options?: RequireScopesOptions,
): RequestHandler {
  return authorize(scopesAuthorizer(scopes, options))
}
