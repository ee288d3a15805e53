/**
 * The `Access-Control-Expose-Headers` value that lists `names` beside what `current` already exposes, for
 * adapters that add response headers a browser client must read (`DPoP-Nonce`) after a CORS layer set
 * its own list. Names already listed (in any case), and the `*` wildcard, are kept as they are.
 *
 * @example
 * exposeHeaders('X-Request-Id', ['DPoP-Nonce']) // 'X-Request-Id, DPoP-Nonce'
 * @see https://fetch.spec.whatwg.org/#http-access-control-expose-headers
 */
export function exposeHeaders(current: unknown, names: readonly string[]): string {
  const listed =
    typeof current === 'string'
      ? current
      : Array.isArray(current)
        ? current.filter((value) => typeof value === 'string').join(', ')
        : ''
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
