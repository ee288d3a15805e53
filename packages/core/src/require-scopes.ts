import type { Auth, Authorizer, Decision } from './auth.js'
import { ZeroTrustError } from './errors.js'
import { optionError } from './options.js'

/** Options of {@link requireScopes}. */
export interface RequireScopesOptions {
  /** `all` (default): every scope is required; `any`: one of them suffices. */
  readonly match?: 'all' | 'any'
}

const allowed: Decision = Object.freeze({ allowed: true })

/**
 * An authorizer that requires scopes of the token. A denial is 403 `insufficient_scope` whose challenge
 * names the scopes (RFC 6750 §3.1).
 *
 * @example
 * app.post('/orders', authorize(requireScopes(['orders:write'])), createOrder)
 * @throws TypeError when `scopes` is empty or holds anything but scope tokens
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function requireScopes(
  scopes: string | readonly string[],
  options: RequireScopesOptions = {},
): Authorizer {
  const required = Object.freeze(typeof scopes === 'string' ? [scopes] : [...scopes])
  if (required.length === 0) throw optionError('requireScopes', 'scopes', 'must name at least one scope')
  for (const scope of required) {
    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    if (typeof scope !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)) {
      throw optionError('requireScopes', 'scopes', 'must hold scope tokens (printable ASCII without spaces)')
    }
  }
  const match = options.match ?? 'all'
  if (match !== 'all' && match !== 'any')
    throw optionError('requireScopes', 'match', 'must be "all" or "any"')

  return {
    layer: 'scopes',
    authorize(_req, auth: Auth): Decision {
      const granted = auth.scopes
      const ok =
        match === 'all'
          ? required.every((s) => granted.includes(s))
          : required.some((s) => granted.includes(s))
      if (ok) return allowed
      return {
        allowed: false,
        error: new ZeroTrustError('insufficient_scope', 'the access token lacks a required scope', {
          reason: 'missing_scope',
          scope: required,
          // A workload proven by its certificate alone needs a token for scopes: challenge for one.
          challenges: [{ scheme: auth.scheme === 'mtls' ? 'Bearer' : auth.scheme }],
        }),
      }
    },
  }
}
