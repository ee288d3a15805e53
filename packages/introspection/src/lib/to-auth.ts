import { type Auth, type Confirmation, ZeroTrustError } from '@zerotrust/core'
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
 * server (another `iss` or `aud`, expired, not yet valid) is an invalid token (401).
 *
 * @param now seconds since the epoch
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2
 */
export function toAuth(response: IntrospectionResponse, checks: ResponseChecks, now: number): Auth {
  const claims = deepFreeze({ ...response }) as Readonly<Record<string, unknown>>
  const issuer = optional(claims, 'iss', 'string')
  const audience = readAudience(claims.aud)
  const exp = optional(claims, 'exp', 'number')
  const nbf = optional(claims, 'nbf', 'number')
  optional(claims, 'iat', 'number')
  const scope = optional(claims, 'scope', 'string')
  optional(claims, 'token_type', 'string')
  const cnf = readConfirmation(claims.cnf)

  if (issuer !== undefined && issuer !== checks.issuer) {
    throw invalid('unexpected "iss" claim value', 'claim:iss')
  }
  if (audience.length > 0 && !audience.some((aud) => checks.audience.includes(aud))) {
    throw invalid('unexpected "aud" claim value', 'claim:aud')
  }
  if (exp !== undefined && exp + checks.clockTolerance <= now) {
    throw invalid('the access token expired', 'expired')
  }
  if (nbf !== undefined && nbf - checks.clockTolerance > now) {
    throw invalid('the access token is not yet valid', 'not_yet_valid')
  }

  return Object.freeze({
    subject: optional(claims, 'sub', 'string'),
    issuer,
    audience: Object.freeze(audience),
    clientId: optional(claims, 'client_id', 'string'),
    scopes: Object.freeze(scope === undefined ? [] : scope.split(' ').filter((s) => s !== '')),
    claims,
    scheme: 'Bearer',
    format: 'opaque',
    expiresAt: exp,
    cnf,
  } satisfies Auth)
}

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

function readAudience(aud: unknown): string[] {
  if (aud === undefined) return []
  if (typeof aud === 'string') return [aud]
  if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) return [...aud]
  throw malformed()
}

function readConfirmation(cnf: unknown): Confirmation | undefined {
  if (cnf === undefined) return undefined
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw malformed()
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>
  if ((jkt !== undefined && typeof jkt !== 'string') || (x5t !== undefined && typeof x5t !== 'string')) {
    throw malformed()
  }
  return cnf as Confirmation
}

function malformed(): ZeroTrustError {
  return unavailable('introspection_malformed')
}

function invalid(message: string, reason: string): ZeroTrustError {
  // Challenges are added by the caller.
  return new ZeroTrustError('invalid_token', message, { reason })
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}
