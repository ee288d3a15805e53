import { isFieldValue, isToken } from './lib/header-params.js'

/**
 * The `Access-Control-Expose-Headers` value that lists `names` beside what `current` already exposes, for
 * adapters that add response headers a browser client must read (`DPoP-Nonce`) after a CORS layer set
 * its own list. Names already listed (in any case), and the `*` wildcard, are kept as they are; a list
 * that could not be sent as it is (CR, LF) keeps only its members that are header names.
 *
 * @example
 * exposeHeaders('X-Request-Id', ['DPoP-Nonce']) // 'X-Request-Id, DPoP-Nonce'
 * @see https://fetch.spec.whatwg.org/#http-access-control-expose-headers
 */
export function exposeHeaders(current: unknown, names: readonly string[]): string {
  // No list yet (no CORS layer, or one that exposes nothing): every name, without the parse below, which
  // is most of this function's cost on each response that sets a header (issue 14).
  if (current === undefined || current === '') return names.join(', ')
  const joined =
    typeof current === 'string'
      ? current
      : Array.isArray(current)
        ? current.filter((value) => typeof value === 'string').join(', ')
        : ''
  const listed = isFieldValue(joined)
    ? joined
    : joined
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name === '*' || isToken(name))
        .join(', ')
  const seen = new Set(
    listed
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  )
  const added = names.filter((name) => !seen.has(name.toLowerCase()) && !seen.has('*'))
  if (added.length === 0) return listed
  return listed === '' ? added.join(', ') : `${listed}, ${added.join(', ')}`
}
