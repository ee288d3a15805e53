/**
 * The draft-ietf-httpapi-ratelimit-headers fields of one policy: `RateLimit-Policy` (its quota `q` per
 * window `w` seconds) and `RateLimit` (`r` remaining, `t` seconds until the quota resets), each a
 * structured-field list of one item named by the policy (RFC 9651 string).
 *
 * @example
 * rateLimitHeaders('default', 100, 60, 0, 17)
 * // { 'RateLimit-Policy': '"default";q=100;w=60', RateLimit: '"default";r=0;t=17' }
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
export function rateLimitHeaders(
  policy: string,
  quota: number,
  windowSeconds: number,
  remaining: number,
  resetSeconds: number,
): Record<string, string> {
  return {
    'RateLimit-Policy': policyField(policy, quota, windowSeconds),
    RateLimit: rateLimitField(policy, remaining, resetSeconds),
  }
}

/** The `RateLimit-Policy` value of one policy: `"default";q=100;w=60`. */
export function policyField(policy: string, quota: number, windowSeconds: number): string {
  return `"${policy}";q=${quota};w=${windowSeconds}`
}

/** The `RateLimit` value of one policy: `"default";r=42;t=17`. */
export function rateLimitField(policy: string, remaining: number, resetSeconds: number): string {
  return `"${policy}";r=${remaining};t=${resetSeconds}`
}

/** Seconds until a window that ends in `ms` resets, as `Retry-After` and `t` count them: at least 1. */
export function resetSeconds(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return 1
  return Math.max(1, Math.ceil(ms / 1000))
}
