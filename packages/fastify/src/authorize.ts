import {
  type Authorizer,
  type RequestLike,
  type RequireScopesOptions,
  requireScopes as scopesAuthorizer,
} from '@zerotrust/core'
import {
  checkAuthorizer,
  fromNodeRequest,
  noOrigin,
  runAuthorization,
  withRoute,
} from '@zerotrust/core/adapter'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { sendError, setResponseHeaders, stateOf } from './lib/context.js'
import { routeConfig } from './lib/route-config.js'

/**
 * A hook for a route's options: `preHandler`, or `onRequest` to decide before the body is read. It
 * answers a denial at once and resolves with nothing when the request may go on.
 */
export type ZeroTrustHook = (
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply | undefined>

/**
 * A route hook that asks `authorizer` about the authenticated request. A denial is answered at once
 * (403, with the challenge core renders); an allow's response headers (`RateLimit`) are set. On a route the plugin does not authenticate (opted out, or
 * outside its scope) it fails closed with a 500.
 *
 * @example
 * app.delete('/orders/:id', { preHandler: authorize(requireClaims({ role: 'admin' })) }, deleteOrder)
 * @throws TypeError when `authorizer` is not an authorizer
 */
export function authorize(authorizer: Authorizer): ZeroTrustHook {
  checkAuthorizer(authorizer)
  return async function zeroTrustAuthorize(request, reply) {
    const state = stateOf(request)
    const view = routedView(
      state?.view ?? fromNodeRequest(request.raw, { resolveOrigin: noOrigin, target: request.originalUrl }),
      request,
    )
    let headers: Readonly<Record<string, string>> | undefined
    try {
      headers = await runAuthorization(authorizer, view, state?.auth, state?.onDecision)
    } catch (error) {
      return sendError(reply, error, state?.realm)
    }
    if (headers !== undefined) setResponseHeaders(reply, headers)
    return undefined
  }
}

/**
 * A route hook requiring scopes of the token: 403 `insufficient_scope` naming them otherwise. The same
 * as `config: { zeroTrust: { scopes } }`, for routes that list their hooks.
 *
 * @example
 * app.post('/orders', { preHandler: requireScopes('orders:write') }, createOrder)
 * @throws TypeError when `scopes` is empty or holds anything but scope tokens
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function requireScopes(
  scopes: string | readonly string[],
  options?: RequireScopesOptions,
): ZeroTrustHook {
  return authorize(scopesAuthorizer(scopes, options))
}

/**
 * The view an authorizer sees once Fastify matched a route: its pattern (`/orders/:id`, with the prefix
 * of the plugin scope) and parameters, so Cedar actions name routes, never raw paths. Used by this hook
 * and by the plugin's `preHandler`.
 */
export function routedView(view: RequestLike, request: FastifyRequest): RequestLike {
  const params: Record<string, string> = {}
  const raw: unknown = request.params
  if (typeof raw === 'object' && raw !== null) {
    for (const [name, value] of Object.entries(raw)) if (typeof value === 'string') params[name] = value
  }
  return withRoute(view, routeConfig(request).url, params)
}
