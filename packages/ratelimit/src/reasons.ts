/**
 * The `reason`s of `rateLimit`'s and `failureLimit`'s errors and decision events. docs/errors.md lists
 * exactly these.
 *
 * @example
 * if (event.reason === 'too_many_failures') alerts.bruteForce(event)
 */
export const ratelimitReasons = Object.freeze([
  // 429: the caller spent its budget of the window.
  'budget_exhausted',
  // 429: the peer sent too many requests that failed authentication.
  'too_many_failures',
  // 503 (`onStoreFailure: 'reject'`), or a diagnostic of an allowed decision (`'allow'`).
  'rate_limit_store_unavailable',
] as const)

/** One of {@link ratelimitReasons}. */
export type RatelimitReason = (typeof ratelimitReasons)[number]
