import { type Auth, type Authorizer, type Decision, type RequestLike, ZeroTrustError } from '@zerotrust/core'

/**
 * An authorizer for routes that accept only DPoP-bound tokens, where the rest of the service still takes
 * bearer tokens through a `dpop(inner)` authenticator without `required`. A bearer request is refused
 * with 401 `invalid_token` and a `DPoP` challenge.
 *
 * @example
 * app.post('/payments', authorize(requireDpop()), pay)
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export function requireDpop(options: { readonly realm?: string } = {}): Authorizer {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('requireDpop: options must be an object')
  if (options.realm !== undefined && typeof options.realm !== 'string') {
    throw new TypeError('requireDpop: "realm" option must be a string')
  }
  const params = options.realm === undefined ? undefined : { realm: options.realm }
  const denied: Decision = {
    allowed: false,
    error: new ZeroTrustError('invalid_token', 'this resource requires a DPoP-bound access token', {
      reason: 'dpop_required',
      challenges: [params === undefined ? { scheme: 'DPoP' } : { scheme: 'DPoP', params }],
    }),
  }
  const allowed: Decision = { allowed: true }
  return {
    layer: 'dpop-required',
    authorize(_req: RequestLike, auth: Auth): Decision {
      return auth.scheme === 'DPoP' ? allowed : denied
    },
  }
}
