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
 * once (403, with the challenge core renders). Mounted without `authenticate()` before it, it fails
 * closed with a 500. On a route, the authorizer sees the route's pattern and parameters.
 *
 * @example
 * app.get('/orders/:id', authorize(cedarAuthorizer({ policies })), getOrder)
 * router.post('/refunds', authorize(policies, { mountPath: '/orders/:orderId' }), refund)
 * @throws TypeError when `authorizer` is not an authorizer or `mountPath` is not a path pattern
 */
export function authorize(authorizer: Authorizer, options: AuthorizeOptions = {}): RequestHandler {
  checkAuthorizer(authorizer)
  const mountPath = checkMountPath(options?.mountPath)
  return async function zeroTrustAuthorize(req: Request, res: Response, next: NextFunction) {
    const context = contextOf(req)
    const base = context?.view ?? fromNodeRequest(req, { resolveOrigin: noOrigin, target: req.originalUrl })
    // Route-level authorizers (Cedar actions) see the matched pattern and parameters, never only the path.
    const view = withRoute(base, routePattern(req, mountPath), routeParams(req.params))
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

function checkMountPath(mountPath: unknown): string | undefined {
  if (mountPath === undefined) return undefined
  if (typeof mountPath !== 'string' || !mountPath.startsWith('/')) {
    throw new TypeError('authorize: "mountPath" option must be a path pattern starting with "/"')
  }
  return mountPath === '/' ? '' : mountPath.replace(/\/+$/, '')
}

// `req.route` exists once a route matched (not in `app.use()` middleware). A route defined by a RegExp
// or an array of paths has no single pattern. `req.baseUrl` is never used as a pattern: it is the text
// the client sent (`/ADMIN` for a mount at `/admin`, `/tenants/acme` for `/tenants/:tenant`), and an
// action built from it would let a client pick its policy.
function routePattern(req: Request, mountPath: string | undefined): string | undefined {
  const path: unknown = req.route?.path
  if (typeof path !== 'string') return undefined
  if (req.baseUrl === '') return path
  if (mountPath === undefined) return undefined
  // A router's root route under `/api` is `/api`, not `/api/`.
  return path === '/' && mountPath !== '' ? mountPath : `${mountPath}${path}`
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
