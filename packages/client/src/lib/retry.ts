// When a call may be made again, and after how long.

/** RFC 9110 §9.2.1 safe and §9.2.2 idempotent methods: sending one twice means what sending it once does. */
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/** Methods that carry an `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header-07 §2). */
export const keyedMethods = new Set(['POST', 'PATCH'])

/**
 * Whether an attempt whose outcome is unknown (the connection broke, the answer was 5xx) may be made
 * again: an idempotent method, or a write that carries an `Idempotency-Key`, so the server runs it once.
 */
export function mayRepeat(method: string, keyed: boolean): boolean {
  return keyed || idempotentMethods.has(method)
}

/**
 * Statuses worth another attempt: the service was busy, down or slow, and said nothing about the
 * request itself. 409 is handled apart (a keyed write still in flight); 422 and every other 4xx never.
 */
export function retryableStatus(status: number): boolean {
  return (
    status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504
  )
}

// A delta-seconds value or an HTTP-date (IMF-fixdate, or the obsolete forms Date.parse reads).
const deltaSeconds = /^\d{1,10}$/
const maxHttpDateLength = 64

/**
 * Milliseconds to wait from a `Retry-After` header (RFC 9110 §10.2.3), or `undefined` when it is absent
 * or unreadable. A date in the past is 0.
 *
 * @example
 * retryAfterMs('3') // 3000
 * retryAfterMs('Wed, 21 Oct 2026 07:28:00 GMT', Date.now()) // until then
 */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined) return undefined
  const value = header.trim()
  if (deltaSeconds.test(value)) return Number(value) * 1000
  if (value.length > maxHttpDateLength || !/^[A-Za-z]{3}/.test(value)) return undefined
  const at = Date.parse(value)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now)
}

/**
 * Exponential backoff with full jitter: a random wait from 0 to `base × 2^(retry − 1)`, at most `max`.
 *
 * @example
 * backoff(1, 100, 5000) // 0..100
 * backoff(3, 100, 5000) // 0..400
 */
export function backoff(retry: number, base: number, max: number, random = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** Math.min(retry - 1, 30))
  return Math.floor(random() * ceiling)
}
