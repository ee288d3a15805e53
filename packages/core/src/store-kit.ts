// What every IdempotencyStore with per-caller shares, and the layer that reads its refusals, need alike:
// one check of the caller a claim names, one measure of a stored response, one conversion of a wait to
// `Retry-After`, and one error for a refused claim.
import { ZeroTrustError } from './errors.js'
import type { IdempotencyClaim, StoredResponse } from './stores.js'

/** A claim the store refused: the caller at its share (`caller_quota`), or the whole store full (`store_full`). */
export type IdempotencyRefusal = Extract<IdempotencyClaim, { state: 'refused' }>

/**
 * Longest caller name a store takes: the layer names callers with a SHA-256 digest (43 characters), so a
 * longer name is a programming error, not a request.
 */
export const maxCallerLength = 512

/**
 * Checks the caller a claim names (`IdempotencyClaimOptions.caller`): `undefined` (the claim counts against
 * no share), or a non-empty string of at most {@link maxCallerLength} characters.
 *
 * @example
 * const caller = checkCaller(claimOptions?.caller)
 * @throws TypeError when `caller` is neither
 */
export function checkCaller(caller: unknown): string | undefined {
  if (caller === undefined) return undefined
  if (typeof caller !== 'string' || caller.length === 0 || caller.length > maxCallerLength) {
    throw new TypeError(`"caller" must be a non-empty string of at most ${maxCallerLength} characters`)
  }
  return caller
}

/**
 * Bytes of a stored response as a share counts them: the body, and the header names and values (their
 * UTF-16 lengths, as every store measures them alike).
 *
 * @example
 * if (storedResponseSize(response) > maxBytesPerCaller) throw refusedClaimError({ reason: 'caller_quota', retryAfterMs })
 */
export function storedResponseSize(response: StoredResponse): number {
  let size = response.body.byteLength
  for (const [name, value] of Object.entries(response.headers)) {
    size += name.length
    if (typeof value === 'string') size += value.length
    else for (const item of value) size += item.length
  }
  return size
}

/**
 * Whole seconds for `Retry-After` from a wait in milliseconds: rounded up, and at least 1, so a client
 * never retries before the time given, and never at once.
 *
 * @example
 * retryAfterSeconds(41_200) // 42
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export function retryAfterSeconds(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return 1
  return Math.max(1, Math.ceil(ms / 1000))
}

/**
 * The error of a refused claim, or of a response that does not fit its caller's share: 429
 * `rate_limited` (reason `caller_quota`) to the caller over its share, 503 `dependency_unavailable`
 * (reason `store_full`) when the whole store is full; `Retry-After` is when the store expects room.
 *
 * @example
 * if (claim.state === 'refused') throw refusedClaimError(claim)
 */
export function refusedClaimError(
  refusal: Pick<IdempotencyRefusal, 'reason' | 'retryAfterMs'>,
): ZeroTrustError {
  const retryAfter = retryAfterSeconds(refusal.retryAfterMs)
  if (refusal.reason === 'caller_quota') {
    return new ZeroTrustError('rate_limited', 'the caller holds its share of the idempotency store', {
      reason: 'caller_quota',
      retryAfter,
    })
  }
  return new ZeroTrustError('dependency_unavailable', 'the idempotency store is full', {
    reason: 'store_full',
    retryAfter,
  })
}
