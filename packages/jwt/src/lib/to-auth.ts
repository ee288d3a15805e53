import { type Auth, ZeroTrustError } from '@zerotrust/core'
import { type AuthClaim, claimsToAuth } from '@zerotrust/core/layer'
import type { JWTPayload } from 'jose'

/**
 * Builds the `Auth` of a verified payload (core's claimsToAuth, which freezes the payload). Identifier
 * claims must be strings where present (RFC 9068 §2.2): a claim of the wrong type makes the token invalid.
 */
export function toAuth(payload: JWTPayload, scheme: Auth['scheme']): Auth {
  return claimsToAuth(payload, { scheme, format: 'jwt', invalidClaim })
}

function invalidClaim(name: AuthClaim): ZeroTrustError {
  // Challenges are added by the caller's error translation.
  return new ZeroTrustError('invalid_token', `unexpected "${name}" claim value`, { reason: `claim:${name}` })
}
