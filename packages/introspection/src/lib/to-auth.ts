import { type Auth, ZeroTrustError } from '@zerotrust/core'
import { claimsToAuth } from '@zerotrust/core/layer'
import type { IntrospectionResponse } from 'oauth4webapi'
import { unavailable } from './translate-error.js'

/** What the checks of an active answer need. */
export interface ResponseChecks {
  readonly issuer: string
  readonly audience: readonly string[]
  readonly clockTolerance: number
}

/**
 * Checks an active introspection answer and builds its `Auth`. A member of the wrong type is a malformed
 * answer (503: the endpoint is at fault, the token may be fine); a value that does not fit this resource
 * server (another `iss` or `aud`, expired, not yet valid) is an invalid token (401). Every member's type
 * is checked before any value.
 *
 * @param now seconds since the epoch
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2
 */
export function toAuth(response: IntrospectionResponse, checks: ResponseChecks, now: number): Auth {
  // A copy: the answer is oauth4webapi's object, and the claims are frozen.
  const claims: Record<string, unknown> = { ...response }
  const nbf = optional(claims, 'nbf', 'number')
  optional(claims, 'iat', 'number')
  optional(claims, 'token_type', 'string')
  const auth = claimsToAuth(claims, { scheme: 'Bearer', format: 'opaque', invalidClaim: malformed })

  if (auth.issuer !== undefined && auth.issuer !== checks.issuer) {
    throw invalid('unexpected "iss" claim value', 'claim:iss')
  }
  if (auth.audience.length > 0 && !auth.audience.some((aud) => checks.audience.includes(aud))) {
    throw invalid('unexpected "aud" claim value', 'claim:aud')
  }
  if (auth.expiresAt !== undefined && auth.expiresAt + checks.clockTolerance <= now) {
    throw invalid('the access token expired', 'expired')
  }
  if (nbf !== undefined && nbf - checks.clockTolerance > now) {
    throw invalid('the access token is not yet valid', 'not_yet_valid')
  }
  return auth
}

// The members RFC 7662 §2.2 defines that `Auth` does not hold; core's claimsToAuth checks the others.
function optional<T extends 'string' | 'number'>(
  claims: Readonly<Record<string, unknown>>,
  name: string,
  type: T,
): (T extends 'string' ? string : number) | undefined {
  const value = claims[name]
  if (value === undefined) return undefined
  if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) throw malformed()
  return value as T extends 'string' ? string : number
}

function malformed(): ZeroTrustError {
  return unavailable('introspection_malformed')
}

function invalid(message: string, reason: string): ZeroTrustError {
  // Challenges are added by the caller.
  return new ZeroTrustError('invalid_token', message, { reason })
}
