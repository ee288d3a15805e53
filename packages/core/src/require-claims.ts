import type { Auth, Authorizer, Decision } from './auth.js'
import { ZeroTrustError } from './errors.js'
import { optionError } from './options.js'

/**
 * One claim condition: a value the claim must equal (or, for an array claim, contain), or a predicate.
 */
export type ClaimCheck = string | number | boolean | ((value: unknown, auth: Auth) => boolean)

const allowed: Decision = Object.freeze({ allowed: true })

/**
 * An authorizer that requires claims of the token to have given values. A denial is 403
 * `access_denied` with the reason `claim:<name>`.
 *
 * @example
 * authorize(requireClaims({ tenant: 'acme', email_verified: true, acr: (v) => v === 'mfa' }))
 * @throws TypeError when `checks` is empty or a check is not a string, number, boolean or function
 */
export function requireClaims(checks: Readonly<Record<string, ClaimCheck>>): Authorizer {
  if (typeof checks !== 'object' || checks === null)
    throw optionError('requireClaims', 'checks', 'must be an object')
  const entries = Object.entries(checks)
  if (entries.length === 0) throw optionError('requireClaims', 'checks', 'must name at least one claim')
  for (const [name, check] of entries) {
    if (!['string', 'number', 'boolean', 'function'].includes(typeof check)) {
      throw optionError('requireClaims', `checks.${name}`, 'must be a string, number, boolean or function')
    }
  }
  return {
    layer: 'claims',
    authorize(_req, auth: Auth): Decision {
      for (const [name, check] of entries) {
        const value = Object.hasOwn(auth.claims, name) ? auth.claims[name] : undefined
        const ok =
          typeof check === 'function'
            ? check(value, auth) === true
            : Array.isArray(value)
              ? value.includes(check)
              : value === check
        if (!ok) {
          return {
            allowed: false,
            error: new ZeroTrustError('access_denied', 'the access token does not meet a claim requirement', {
              reason: `claim:${name}`,
            }),
          }
        }
      }
      return allowed
    },
  }
}
