// RFC 3986 §2.3: the unreserved characters, which percent-encoding must not change the meaning of.
const encodedOctet = /%([0-9A-Fa-f]{2})/g
const unreserved = /[A-Za-z0-9\-._~]/

/**
 * The form of an http(s) URI that RFC 9449 §4.3 compares `htu` in: scheme and host lower-cased, the
 * default port dropped, dot segments removed, an empty path made `/` (the WHATWG URL parser does these),
 * percent-encoded unreserved characters decoded and other percent-encodings upper-cased (RFC 3986
 * §6.2.2.1–6.2.2.2), query and fragment removed (RFC 9449 §4.3 check 9 ignores them).
 *
 * @returns `undefined` when `value` is not an absolute http(s) URI
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') {
    return undefined
  }
  const path = url.pathname.includes('%') ? normalizeEncoding(url.pathname) : url.pathname
  return `${url.protocol}//${url.host}${path}`
}

function normalizeEncoding(path: string): string {
  return path.replace(encodedOctet, (_match, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16))
    return unreserved.test(char) ? char : `%${hex.toUpperCase()}`
  })
}
