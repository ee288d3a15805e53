import { ZeroTrustError, type ZeroTrustErrorCode } from '@zerotrust/core'
import type { Challenge as ParsedChallenge } from './lib/challenges.js'
import type { Problem } from './lib/problem.js'
import type { ClientReason } from './reasons.js'

/** The call an {@link OutboundError} is about: never its query, which could carry secrets. */
export interface OutboundTarget {
  readonly method: string
  /** The origin called, such as `https://billing.internal:8443`. */
  readonly origin: string
  /** The path called, without the query. */
  readonly path: string
}

/** What the called service answered, when it answered. */
export interface UpstreamAnswer {
  /** The HTTP status it answered with. */
  readonly status: number
  /** Its RFC 9457 problem body, parsed and bounded, when it sent one. */
  readonly problem: Problem | undefined
  /** Its `WWW-Authenticate` challenges, parsed and bounded. */
  readonly challenges: readonly ParsedChallenge[]
  /** Its `Retry-After`, in seconds from when it answered. */
  readonly retryAfter: number | undefined
}

/** Options of an {@link OutboundError}. */
export interface OutboundErrorOptions {
  readonly reason: ClientReason
  readonly target: OutboundTarget
  readonly attempts: number
  readonly upstream?: UpstreamAnswer
  readonly retryAfter?: number
  readonly cause?: unknown
}

const brand = Symbol.for('zerotrust.outbound-error')

/**
 * The one error of `@zerotrust/client`: a call that did not end in a 2xx or 3xx answer. It is a
 * `ZeroTrustError`, so an adapter that sees it thrown renders it: `dependency_unavailable` (503, with
 * `Retry-After`) when the called service or the token issuer is down, unreachable or not the workload
 * expected; `internal_error` (500) when it refused the call (a 4xx is this service's fault, never its
 * caller's). `upstream` says what the called service answered, when it answered; its `status` is that
 * service's, `status` is this service's.
 *
 * Its message names the method, origin and path, never the query, a token, a proof, a key or text the
 * other side sent.
 *
 * @example
 * try {
 *   await billing.fetch('/v1/charges/ch_1')
 * } catch (error) {
 *   if (isOutboundError(error) && error.upstream?.status === 404) return undefined
 *   throw error
 * }
 */
export class OutboundError extends ZeroTrustError {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isOutboundError(value)
  }

  declare readonly reason: ClientReason
  readonly target: OutboundTarget
  /** Attempts made, the last one included. */
  readonly attempts: number
  /** What the called service answered, if it answered. */
  readonly upstream: UpstreamAnswer | undefined
  declare readonly [brand]: true

  constructor(code: ZeroTrustErrorCode, message: string, options: OutboundErrorOptions) {
    super(code, message, {
      reason: options.reason,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      ...(options.retryAfter === undefined ? {} : { retryAfter: options.retryAfter }),
    })
    this.target = options.target
    this.attempts = options.attempts
    this.upstream = options.upstream
    Object.defineProperty(this, brand, { value: true })
  }
}

/**
 * Whether `value` is an {@link OutboundError}, also one from another copy of this package.
 *
 * @example
 * if (isOutboundError(error) && error.reason === 'peer_mismatch') alert(error.target.origin)
 */
export function isOutboundError(value: unknown): value is OutboundError {
  return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true
}
