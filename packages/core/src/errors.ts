/**
 * The stable error codes of zerotrust, with the HTTP status and OAuth `error` attribute each one maps to.
 *
 * This is the one table every adapter renders from: a code never changes meaning, and a new code is a
 * minor release.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export const errorTable = Object.freeze({
  /** The request is malformed: several credentials, a token in the query string, a bad header. */
  invalid_request: { status: 400, title: 'Invalid request', oauthError: 'invalid_request', challenge: true },
  /** No credentials were sent. RFC 6750 §3.1: the challenge carries no `error` attribute. */
  missing_credentials: {
    status: 401,
    title: 'Authentication required',
    oauthError: undefined,
    challenge: true,
  },
  /** The access token is expired, revoked, malformed or otherwise invalid. */
  invalid_token: { status: 401, title: 'Invalid access token', oauthError: 'invalid_token', challenge: true },
  /** The token is valid but lacks a scope the route requires; the challenge carries `scope`. */
  insufficient_scope: {
    status: 403,
    title: 'Insufficient scope',
    oauthError: 'insufficient_scope',
    challenge: true,
  },
  /**
   * RFC 9449 §7.1: the DPoP proof is missing, malformed, replayed or does not match the request; the
   * `DPoP` challenge names the accepted algorithms.
   */
  invalid_dpop_proof: {
    status: 401,
    title: 'Invalid DPoP proof',
    oauthError: 'invalid_dpop_proof',
    challenge: true,
  },
  /** RFC 9449 §9: the proof must carry the server nonce sent in the `DPoP-Nonce` header. */
  use_dpop_nonce: {
    status: 401,
    title: 'DPoP nonce required',
    oauthError: 'use_dpop_nonce',
    challenge: true,
  },
  /**
   * The workload that sent the request is not proven: no verified client certificate holding one SPIFFE
   * ID, or no sidecar header from a trusted hop. The proof is made in the TLS handshake (here or at the
   * sidecar), for which HTTP has no authentication scheme: a `Bearer` challenge would tell the client a
   * token helps, and it does not, so no `WWW-Authenticate` is sent; the body's `reason` says what failed.
   */
  unauthenticated_workload: {
    status: 401,
    title: 'Workload not authenticated',
    oauthError: undefined,
    challenge: false,
  },
  /** An authorization policy denied the request. */
  access_denied: { status: 403, title: 'Access denied', oauthError: undefined, challenge: false },
  /** The `Idempotency-Key` header is missing where the route requires one, or malformed. */
  invalid_idempotency_key: {
    status: 400,
    title: 'Invalid idempotency key',
    oauthError: undefined,
    challenge: false,
  },
  /** A request with the same `Idempotency-Key` is still being processed: retry after `Retry-After`. */
  idempotency_conflict: {
    status: 409,
    title: 'Request in progress',
    oauthError: undefined,
    challenge: false,
  },
  /** The `Idempotency-Key` was already used for a different request (another method, route or body). */
  idempotency_key_reused: {
    status: 422,
    title: 'Idempotency key reused',
    oauthError: undefined,
    challenge: false,
  },
  /**
   * The request body's media type cannot take part in a layer that must read it (an idempotent route
   * whose body the framework did not parse): the client's choice, so never a 500.
   */
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported media type',
    oauthError: undefined,
    challenge: false,
  },
  /**
   * The caller spent a budget of ours (its share of the idempotency store, a rate limit): retry after
   * `Retry-After`. Only that caller is refused, never everyone.
   */
  rate_limited: {
    status: 429,
    title: 'Too many requests',
    oauthError: undefined,
    challenge: false,
  },
  /** A dependency of ours (JWKS, introspection endpoint, store) failed: retry later, never a 401. */
  dependency_unavailable: {
    status: 503,
    title: 'Service temporarily unavailable',
    oauthError: undefined,
    challenge: false,
  },
  /** Anything else: rendered without its message. */
  internal_error: { status: 500, title: 'Internal server error', oauthError: undefined, challenge: false },
} as const)

/** A stable zerotrust error code; `switch (err.code)` narrows on it. */
export type ZeroTrustErrorCode = keyof typeof errorTable

/** The authentication schemes a challenge can name. */
export type AuthScheme = 'Bearer' | 'DPoP'

/**
 * One `WWW-Authenticate` challenge, without its `error` attributes (those come from the error code).
 *
 * @example { scheme: 'Bearer', params: { realm: 'orders' } }
 */
export interface Challenge {
  readonly scheme: AuthScheme
  readonly params?: Readonly<Record<string, string>>
  /**
   * `false` leaves the error attributes (`error`, `error_description`, `scope`) off this challenge: for a
   * scheme the server also accepts but the request did not use, such as `Bearer` beside a failed `DPoP`
   * proof (RFC 9449 §7.1).
   */
  readonly error?: boolean
}

/** Options of a {@link ZeroTrustError}. */
export interface ZeroTrustErrorOptions {
  /** A stable, finer sub-code for audit logs, such as `expired` or `signature`. */
  readonly reason?: string
  /** The underlying error. It is never rendered into a response. */
  readonly cause?: unknown
  /** The challenges to send; the scheme `Bearer` without parameters when absent. */
  readonly challenges?: readonly Challenge[]
  /** The scopes a route requires, for `insufficient_scope`. */
  readonly scope?: readonly string[]
  /**
   * Seconds a client should wait before retrying, sent as `Retry-After`: always for
   * `dependency_unavailable` (5 when absent), and for any other code that sets it (`idempotency_conflict`).
   */
  readonly retryAfter?: number
  /** Further response headers, such as `DPoP-Nonce`. */
  readonly headers?: Readonly<Record<string, string>>
}

const brand = Symbol.for('zerotrust.error')

/**
 * The one error class of zerotrust: a stable `code`, the HTTP `status` it maps to, an optional challenge.
 *
 * Recognize it with {@link isZeroTrustError} (or `instanceof`, which checks a brand, so two copies of
 * this package still agree). Its message is written by zerotrust and never contains a token, a secret
 * or upstream text.
 *
 * @example
 * throw new ZeroTrustError('invalid_token', 'the access token expired', { reason: 'expired' })
 */
export class ZeroTrustError extends Error {
  /** Every stable code, for exhaustive handling. */
  static readonly codes = Object.freeze(Object.keys(errorTable)) as readonly ZeroTrustErrorCode[]

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isZeroTrustError(value)
  }

  override readonly name = 'ZeroTrustError'
  readonly code: ZeroTrustErrorCode
  readonly status: number
  readonly reason: string | undefined
  readonly challenges: readonly Challenge[] | undefined
  readonly scope: readonly string[] | undefined
  readonly retryAfter: number | undefined
  readonly headers: Readonly<Record<string, string>> | undefined
  declare readonly [brand]: true

  constructor(code: ZeroTrustErrorCode, message: string, options: ZeroTrustErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    const entry = errorTable[code]
    if (entry === undefined) throw new TypeError(`unknown zerotrust error code "${String(code)}"`)
    this.code = code
    this.status = entry.status
    this.reason = options.reason
    this.challenges = options.challenges
    this.scope = options.scope
    this.retryAfter = options.retryAfter
    this.headers = options.headers
    Object.defineProperty(this, brand, { value: true })
  }

  /**
   * The same error (code, status, message, reason, cause, scope, `Retry-After`, headers) with the given
   * options in place of its own: for a layer that passes on an inner layer's refusal under its own
   * challenges. The error itself is left as it is.
   *
   * @example
   * throw error.with({ challenges: [{ scheme: 'DPoP', params: { algs: 'ES256' } }] })
   */
  with(changes: ZeroTrustErrorOptions): ZeroTrustError {
    // The constructor reads an `undefined` member as an absent one.
    const own = {
      reason: this.reason,
      cause: this.cause,
      challenges: this.challenges,
      scope: this.scope,
      retryAfter: this.retryAfter,
      headers: this.headers,
    } as ZeroTrustErrorOptions
    return new ZeroTrustError(this.code, this.message, { ...own, ...changes })
  }
}

/**
 * Whether `value` is a {@link ZeroTrustError}, from this copy of the package or another.
 */
export function isZeroTrustError(value: unknown): value is ZeroTrustError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [brand]?: unknown })[brand] === true &&
    typeof (value as { code?: unknown }).code === 'string' &&
    Object.hasOwn(errorTable, (value as { code: string }).code)
  )
}

/** Turns anything thrown into a {@link ZeroTrustError}; unknown errors become `internal_error`. */
export function toZeroTrustError(value: unknown): ZeroTrustError {
  if (isZeroTrustError(value)) return value
  return new ZeroTrustError('internal_error', 'an internal error occurred', { cause: value })
}

/**
 * The `Bearer` challenge of a token layer, with its `realm` when one is configured.
 *
 * @example
 * const challenges = bearerChallenges('orders') // [{ scheme: 'Bearer', params: { realm: 'orders' } }]
 */
export function bearerChallenges(realm: string | undefined): readonly Challenge[] {
  return Object.freeze([realm === undefined ? { scheme: 'Bearer' } : { scheme: 'Bearer', params: { realm } }])
}
