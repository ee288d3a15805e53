import { type Challenge, isZeroTrustError, ZeroTrustError } from '@zerotrust/core'

interface JoseErrorLike {
  readonly code?: unknown
  readonly claim?: unknown
  readonly reason?: unknown
}

/**
 * Turns what jose (or our key sets) threw into a `ZeroTrustError`, by jose's stable error codes, never
 * by message text. What we cannot classify fails closed as `internal_error`.
 */
export function translateError(error: unknown, challenges: readonly Challenge[]): ZeroTrustError {
  if (isZeroTrustError(error)) {
    return error.code !== 'invalid_token' || error.challenges !== undefined
      ? error
      : error.with({ challenges })
  }
  const { code, claim, reason } = (typeof error === 'object' && error !== null ? error : {}) as JoseErrorLike
  const invalid = (message: string, why: string) =>
    new ZeroTrustError('invalid_token', message, { reason: why, cause: error, challenges })
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      // jose reports a token older than maxTokenAge as expired on its "iat" claim.
      return claim === 'iat'
        ? invalid('the access token is too old', 'too_old')
        : invalid('the access token expired', 'expired')
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claimError(String(claim), String(reason), invalid)
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalid('the access token signature is invalid', 'signature')
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return invalid('the access token "alg" is not allowed', 'algorithm')
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return invalid('the access token is malformed', 'malformed')
    case 'ERR_JOSE_NOT_SUPPORTED':
      return invalid('the access token uses an unsupported feature', 'unsupported')
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return invalid('no key of the issuer matches the access token', 'unknown_key')
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return invalid(
        'several keys of the issuer match the access token; it must name its "kid"',
        'ambiguous_key',
      )
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

function claimError(
  claim: string,
  reason: string,
  invalid: (message: string, why: string) => ZeroTrustError,
): ZeroTrustError {
  if (claim === 'nbf') return invalid('the access token is not yet valid', 'not_yet_valid')
  // jose reports an "iat" too old as ERR_JWT_EXPIRED; this one is in the future (with maxTokenAge).
  if (claim === 'iat' && reason === 'check_failed') {
    return invalid('the access token was issued in the future', 'iat_in_future')
  }
  if (claim === 'typ') return invalid('unexpected "typ" header value', 'typ')
  if (reason === 'missing') return invalid(`missing required "${claim}" claim`, `missing_claim:${claim}`)
  return invalid(`unexpected "${claim}" claim value`, `claim:${claim}`)
}
