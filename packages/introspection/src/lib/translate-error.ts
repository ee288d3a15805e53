import { isZeroTrustError, ZeroTrustError } from '@zerotrust/core'

/** Seconds a client is told to wait after the introspection endpoint failed. */
export const retryAfterSeconds = 5

/** Why the introspection endpoint could not give an answer: the `reason`s of the 503. */
export const unavailableReasons = Object.freeze([
  'introspection_unavailable',
  'introspection_timeout',
  'introspection_malformed',
  'introspection_too_large',
  'introspection_rejected',
  'introspection_overloaded',
  'discovery_unavailable',
  'client_secret_unavailable',
] as const)

/** One of {@link unavailableReasons}. */
export type UnavailableReason = (typeof unavailableReasons)[number]

const messages: Readonly<Record<UnavailableReason, string>> = {
  introspection_unavailable: 'the token introspection endpoint is unavailable',
  introspection_timeout: 'the token introspection endpoint did not answer in time',
  introspection_malformed: 'the token introspection endpoint sent a malformed response',
  introspection_too_large: 'the token introspection endpoint sent a response that is too large',
  introspection_rejected: 'the token introspection endpoint refused this resource server',
  introspection_overloaded: 'too many token introspections are pending',
  discovery_unavailable: 'the token introspection endpoint cannot be discovered',
  client_secret_unavailable: 'the client secret for token introspection is unavailable',
}

/**
 * A failure of our dependency: 503 with `Retry-After`, never a 401 and never an allow. The message is
 * ours; upstream text stays in `cause`, which is never rendered.
 */
export function unavailable(reason: UnavailableReason, cause?: unknown): ZeroTrustError {
  return new ZeroTrustError('dependency_unavailable', messages[reason], {
    reason,
    cause,
    retryAfter: retryAfterSeconds,
  })
}

interface CodedError {
  readonly code?: unknown
  readonly status?: unknown
  readonly cause?: unknown
}

/**
 * Turns what oauth4webapi (or fetch) threw into a `ZeroTrustError`, by oauth4webapi's stable error
 * codes, never by message text. Every failure to get a well-formed answer fails closed as a 503.
 *
 * @param timedOut whether this introspection's deadline has passed, which explains an aborted fetch
 */
export function translateError(error: unknown, timedOut: boolean): ZeroTrustError {
  if (isZeroTrustError(error)) return error
  if (timedOut) return unavailable('introspection_timeout', error)
  const { code, status, cause } = (typeof error === 'object' && error !== null ? error : {}) as CodedError
  switch (code) {
    // The body is not JSON, not an object, or `active` is not a boolean (RFC 7662 §2.2).
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
    case 'OAUTH_PARSE_ERROR':
    case 'OAUTH_INVALID_RESPONSE':
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
    case 'OAUTH_UNSUPPORTED_OPERATION':
      return unavailable('introspection_malformed', error)
    // An OAuth error body (RFC 6749 §5.2) or a challenge: our client was refused, unless the server failed.
    case 'OAUTH_RESPONSE_BODY_ERROR':
      return typeof status === 'number' && status >= 500
        ? unavailable('introspection_unavailable', error)
        : unavailable('introspection_rejected', error)
    case 'OAUTH_WWW_AUTHENTICATE_CHALLENGE':
      return unavailable('introspection_rejected', error)
    // An unexpected HTTP status; the cause is the response.
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM': {
      const upstream = (cause as { status?: unknown } | undefined)?.status
      return typeof upstream === 'number' && upstream >= 400 && upstream < 500
        ? unavailable('introspection_rejected', error)
        : unavailable('introspection_unavailable', error)
    }
    default:
      // fetch rejects with a TypeError (connection refused, reset, DNS): the endpoint is unreachable.
      return unavailable('introspection_unavailable', error)
  }
}
