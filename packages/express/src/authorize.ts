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
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { sendError } from './lib/context.js'

/**
 * Express middleware that asks `authorizer` about the authenticated request. A denial is answered at
 * once (403, with the challenge core renders). Mounted without `authenticate()` before it, it fails
 * closed with a 500.
 *
 * @example
 * app.get('/orders/:id', authorize(cedarAuthorizer({ policies })), getOrder)
 */
export function authorize(authorizer: Authorizer): RequestHandler {
  checkAuthorizer(authorizer)
  return async function zeroTrustAuthorize(req: Request, res: Response, next: NextFunction) {
    const context = contextOf(req)
    const base = context?.view ?? fromNodeRequest(req, { resolveOrigin: noOrigin, target: req.originalUrl })
    // Route-level authorizers (Cedar actions) see the matched pattern and parameters, never only the path.
    const view = withRoute(base, routePattern(req), routeParams(req.params))
    try {
      await runAuthorization(authorizer, view, context?.auth, context?.onDecision)
    } catch (error) {
      sendError(res, error, context?.realm)
      return
    }
    next()
  }
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

// `req.route` exists once a route matched (not in `app.use()` middleware); `req.baseUrl` is where its
// router is mounted. A route defined by a RegExp or an array of paths has no single pattern.
function routePattern(req: Request): string | undefined {
  const path: unknown = req.route?.path
  if (typeof path !== 'string') return undefined
  // A router's root route under `/api` is `/api`, not `/api/`.
  return path === '/' && req.baseUrl !== '' ? req.baseUrl : `${req.baseUrl}${path}`
}

// Express 5 gives a wildcard (`/*splat`) its segments as an array: join them as the path had them.
function routeParams(params: Request['params'] | undefined): Record<string, string> | undefined {
  if (params === undefined) return undefined
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    if (typeof value === 'string') out[name] = value
    else if (Array.isArray(value)) out[name] = value.join('/')
  }
  return out
}
