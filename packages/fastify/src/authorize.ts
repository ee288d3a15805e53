import {
  type Authorizer,
  checkAuthorizer,
  fromNodeRequest,
  noOrigin,
  type RequireScopesOptions,
  runAuthorization,
  requireScopes as scopesAuthorizer,
} from '@zerotrust/core'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { sendError, stateOf } from './lib/context.js'

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
 * (403, with the challenge core renders). On a route the plugin does not authenticate (opted out, or
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
    const view =
      state?.view ?? fromNodeRequest(request.raw, { resolveOrigin: noOrigin, target: request.originalUrl })
    try {
      await runAuthorization(authorizer, view, state?.auth, state?.onDecision)
    } catch (error) {
      return sendError(reply, error, state?.realm)
    }
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
