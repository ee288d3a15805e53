import {
  type Authorizer,
  checkAuthorizer,
  contextOf,
  fromNodeRequest,
  noOrigin,
  type RequireScopesOptions,
  runAuthorization,
  requireScopes as scopesAuthorizer,
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
    const view = context?.view ?? fromNodeRequest(req, { resolveOrigin: noOrigin, target: req.originalUrl })
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
