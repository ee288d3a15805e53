import { type Auth, type Confirmation, ZeroTrustError } from '@zerotrust/core'
import type { JWTPayload } from 'jose'

/**
 * Builds the `Auth` of a verified payload. Identifier claims must be strings where present (RFC 9068
 * §2.2): a numeric `sub` could otherwise match another principal's id after a careless cast.
 */
export function toAuth(payload: JWTPayload, scheme: Auth['scheme']): Auth {
  const claims = deepFreeze(payload) as Readonly<Record<string, unknown>>
  const subject = optionalString(claims, 'sub')
  const clientId = optionalString(claims, 'client_id') ?? optionalString(claims, 'azp')
  return Object.freeze({
    subject,
    issuer: optionalString(claims, 'iss'),
    audience: Object.freeze(typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? [])),
    clientId,
    scopes: Object.freeze(readScopes(claims)),
    claims,
    scheme,
    format: 'jwt',
    expiresAt: payload.exp,
    cnf: readConfirmation(claims.cnf),
  } satisfies Auth)
}

function optionalString(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = claims[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw invalidClaim(name)
  return value
}

function readScopes(claims: Readonly<Record<string, unknown>>): string[] {
  const { scope, scp } = claims
  if (scope !== undefined) {
    if (typeof scope !== 'string') throw invalidClaim('scope')
    return scope.split(' ').filter((s) => s !== '')
  }
  // Some issuers (Azure AD, Okta) send "scp", as an array or a space-separated string.
  if (typeof scp === 'string') return scp.split(' ').filter((s) => s !== '')
  if (Array.isArray(scp)) {
    if (!scp.every((s) => typeof s === 'string')) throw invalidClaim('scp')
    return [...scp]
  }
  if (scp !== undefined) throw invalidClaim('scp')
  return []
}

function readConfirmation(cnf: unknown): Confirmation | undefined {
  if (cnf === undefined) return undefined
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw invalidClaim('cnf')
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>
  if ((jkt !== undefined && typeof jkt !== 'string') || (x5t !== undefined && typeof x5t !== 'string')) {
    throw invalidClaim('cnf')
  }
  return cnf as Confirmation
}

function invalidClaim(name: string): ZeroTrustError {
  // Challenges are added by the caller's error translation.
  return new ZeroTrustError('invalid_token', `unexpected "${name}" claim value`, { reason: `claim:${name}` })
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}
