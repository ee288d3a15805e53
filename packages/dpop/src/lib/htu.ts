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

// A path segment that is `.` or `..` once unreserved percent-encodings are decoded (`%2e`, `%2E`).
const dotSegment = /^(?:\.|%2e){1,2}$/i

/**
 * The `htu` a proof must name for a request: the configured origin and the request path exactly as the
 * server routes it, with only percent-encoding normalized (RFC 3986 §6.2.2.1–6.2.2.2).
 *
 * The path is not put through a URL parser: that would turn `\` into `/` and resolve `..` segments,
 * so `/users/%2e%2e/transfer` (which a router sends to `/users/:id/transfer`) would be checked as
 * `/transfer`. A path a router could read differently from its normalized form (a backslash, a dot
 * segment, literal or encoded) has no `htu` at all and is refused.
 *
 * One per layer: the configured origin is the same on every request, so it is normalized once, not once
 * per proof.
 */
export class RequestHtu {
  #origin: string | undefined
  #base: string | undefined

  /** @returns `undefined` when the path is ambiguous or the origin is not an http(s) origin */
  of(origin: string, path: string): string | undefined {
    if (!path.startsWith('/') || path.includes('\\')) return undefined
    for (const segment of path.split('/')) if (dotSegment.test(segment)) return undefined
    const base = this.#originBase(origin)
    if (base === undefined) return undefined
    return `${base}${path.includes('%') ? normalizeEncoding(path) : path}`
  }

  #originBase(origin: string): string | undefined {
    if (origin !== this.#origin) {
      // `normalizeHtu` of a bare origin ends with the `/` of its empty path.
      this.#base = normalizeHtu(origin)?.slice(0, -1)
      this.#origin = origin
    }
    return this.#base
  }
}
