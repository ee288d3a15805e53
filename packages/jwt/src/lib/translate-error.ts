import { type Challenge, isZeroTrustError, ZeroTrustError } from '@zerotrust/core'

interface JoseErrorLike {
  readonly code?: unknown
  readonly claim?: unknown
  readonly reason?: unknown
}

/** The refusals of a token that are not about one claim's value, each with its one message. */
const refusals = {
  malformed: 'the access token is malformed',
  signature: 'the access token signature is invalid',
  algorithm: 'the access token "alg" is not allowed',
  unsupported: 'the access token uses an unsupported feature',
  unknown_key: 'no key of the issuer matches the access token',
  ambiguous_key: 'several keys of the issuer match the access token; it must name its "kid"',
  expired: 'the access token expired',
  too_old: 'the access token is too old',
  not_yet_valid: 'the access token is not yet valid',
  iat_in_future: 'the access token was issued in the future',
  typ: 'unexpected "typ" header value',
} as const

/** A reason of {@link invalidToken}. */
export type TokenRefusal = keyof typeof refusals

interface RefusalOptions {
  readonly cause?: unknown
  readonly challenges?: readonly Challenge[]
}

/**
 * A 401 `invalid_token` for one of the reasons above: jose's refusals translated, and the same refusals
 * found by our own checks (lib/jws.ts, lib/claims.ts), so that both read alike. Errors thrown without
 * challenges get them from {@link translateError}, which every verification failure passes through.
 */
export function invalidToken(reason: TokenRefusal, options: RefusalOptions = {}): ZeroTrustError {
  return new ZeroTrustError('invalid_token', refusals[reason], { reason, ...options })
}

/** A 401 `invalid_token` for a claim of the wrong value or type (`claim:<name>`). */
export function unexpectedClaim(claim: string, options: RefusalOptions = {}): ZeroTrustError {
  return new ZeroTrustError('invalid_token', `unexpected "${claim}" claim value`, {
    reason: `claim:${claim}`,
    ...options,
  })
}

/** A 401 `invalid_token` for a required claim that is absent (`missing_claim:<name>`). */
export function missingClaim(claim: string, options: RefusalOptions = {}): ZeroTrustError {
  return new ZeroTrustError('invalid_token', `missing required "${claim}" claim`, {
    reason: `missing_claim:${claim}`,
    ...options,
  })
}

/**
 * Turns what jose (or our key sets) threw into a `ZeroTrustError`, by jose's stable error codes, never
 * by message text. What we cannot classify fails closed as `internal_error`. jose's key selection reports
 * the key errors; the header, signature and claim refusals jwtBearer now finds itself, but their jose
 * codes stay mapped here, to the same reasons, so that jose's answers and ours read alike (the test that
 * holds the two together translates jose's with this).
 */
export function translateError(error: unknown, challenges: readonly Challenge[]): ZeroTrustError {
  if (isZeroTrustError(error)) {
    return error.code !== 'invalid_token' || error.challenges !== undefined
      ? error
      : error.with({ challenges })
  }
  const { code, claim, reason } = (typeof error === 'object' && error !== null ? error : {}) as JoseErrorLike
  const options = { cause: error, challenges }
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      // jose reports a token older than maxTokenAge as expired on its "iat" claim.
      return invalidToken(claim === 'iat' ? 'too_old' : 'expired', options)
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claimError(String(claim), String(reason), options)
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalidToken('signature', options)
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return invalidToken('algorithm', options)
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return invalidToken('malformed', options)
    case 'ERR_JOSE_NOT_SUPPORTED':
      return invalidToken('unsupported', options)
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return invalidToken('unknown_key', options)
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return invalidToken('ambiguous_key', options)
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWK_INVALID':
      return new ZeroTrustError('dependency_unavailable', "the token issuer's keys are unusable", {
        reason: 'jwks_invalid',
        cause: error,
      })
    case 'ERR_JWKS_TIMEOUT':
      return new ZeroTrustError('dependency_unavailable', "the token issuer's keys cannot be fetched", {
        reason: 'jwks_timeout',
        cause: error,
      })
    default:
      return new ZeroTrustError('internal_error', 'an internal error occurred', { cause: error })
  }
}

function claimError(claim: string, reason: string, options: RefusalOptions): ZeroTrustError {
  if (claim === 'nbf') return invalidToken('not_yet_valid', options)
  // jose reports an "iat" too old as ERR_JWT_EXPIRED; this one is in the future (with maxTokenAge).
  if (claim === 'iat' && reason === 'check_failed') return invalidToken('iat_in_future', options)
  if (claim === 'typ') return invalidToken('typ', options)
  return reason === 'missing' ? missingClaim(claim, options) : unexpectedClaim(claim, options)
}
