/**
 * A SPIFFE ID split into its parts.
 *
 * @example { id: 'spiffe://prod.example.com/ns/shop/sa/checkout', trustDomain: 'prod.example.com',
 *   path: '/ns/shop/sa/checkout' }
 */
export interface SpiffeId {
  /** The whole ID, as given: `spiffe://<trust domain><path>`. */
  readonly id: string
  /** The trust domain, such as `prod.example.com`. */
  readonly trustDomain: string
  /** The path, such as `/ns/shop/sa/checkout`; empty for the ID of the trust domain itself. */
  readonly path: string
}

/**
 * The rules of the SPIFFE ID standard (§2) a string can break, as {@link SpiffeIdError} names them:
 * `not_a_string`; `too_long` (over 2048 bytes); `scheme` (not `spiffe://`, in lower case);
 * `empty_trust_domain`; `trust_domain_too_long` (over 255 characters); `trust_domain_charset` (a
 * character outside `a-z 0-9 . - _`); `path_charset` (outside `a-z A-Z 0-9 . - _`, a `:` or `@` of the path included); `empty_segment`
 * (`//`); `dot_segment` (`/./` or `/../`); `trailing_slash`; `port`, `userinfo` (a `:` or `@` in the authority);
 * `query`, `fragment`, `percent_encoding` (a `?`, `#` or `%` anywhere).
 */
export type SpiffeIdRule =
  | 'not_a_string'
  | 'too_long'
  | 'scheme'
  | 'empty_trust_domain'
  | 'trust_domain_too_long'
  | 'trust_domain_charset'
  | 'path_charset'
  | 'empty_segment'
  | 'dot_segment'
  | 'trailing_slash'
  | 'port'
  | 'userinfo'
  | 'query'
  | 'fragment'
  | 'percent_encoding'

/**
 * A string that is not a SPIFFE ID, with the rule it breaks. Thrown by {@link parseSpiffeId}; the
 * message never quotes the string, which may come from a request.
 *
 * @example
 * try { parseSpiffeId(text) } catch (err) { if (isSpiffeIdError(err)) log.warn({ rule: err.rule }) }
 */
export class SpiffeIdError extends TypeError {
  /** Every `SpiffeIdError` has this code. */
  static readonly code = 'ERR_SPIFFE_ID'
  override readonly name = 'SpiffeIdError'
  readonly code = SpiffeIdError.code
  /** The rule the string breaks. */
  readonly rule: SpiffeIdRule

  constructor(rule: SpiffeIdRule) {
    super(`not a SPIFFE ID: ${spiffeIdRuleText(rule)}`)
    this.rule = rule
  }
}

/** Whether `value` is a {@link SpiffeIdError}, by its code (two copies of this package agree). */
export function isSpiffeIdError(value: unknown): value is SpiffeIdError {
  return value instanceof Error && (value as { code?: unknown }).code === SpiffeIdError.code
}

/** What breaking `rule` means, in words: `the path ends with "/"`. */
export function spiffeIdRuleText(rule: SpiffeIdRule): string {
  return ruleText[rule]
}

const ruleText: Readonly<Record<SpiffeIdRule, string>> = {
  not_a_string: 'it is not a string',
  too_long: 'it is longer than 2048 bytes',
  scheme: 'it does not start with "spiffe://"',
  empty_trust_domain: 'the trust domain is empty',
  trust_domain_too_long: 'the trust domain is longer than 255 characters',
  trust_domain_charset: 'the trust domain holds a character other than a-z, 0-9, ".", "-" and "_"',
  path_charset: 'the path holds a character other than a-z, A-Z, 0-9, ".", "-" and "_"',
  empty_segment: 'the path has an empty segment',
  dot_segment: 'the path has a "." or ".." segment',
  trailing_slash: 'the path ends with "/"',
  port: 'it has a port',
  userinfo: 'it has user info',
  query: 'it has a query',
  fragment: 'it has a fragment',
  percent_encoding: 'it holds percent-encoding',
}

// SPIFFE ID §2.3: at most 2048 bytes. Every character a valid ID may hold is ASCII, so a string of at
// most 2048 UTF-16 units that passes the character checks below is at most 2048 bytes too.
const maxIdLength = 2048
// SPIFFE ID §2.1: a trust domain of at most 255 characters.
const maxTrustDomainLength = 255
const prefix = 'spiffe://'

// Character classes by code unit, built once: 1 a trust domain character, 2 a path-only character (the
// upper-case letters), 0 neither.
const classes = new Uint8Array(128)
for (let c = 0x61; c <= 0x7a; c++) classes[c] = 1 // a-z
for (let c = 0x30; c <= 0x39; c++) classes[c] = 1 // 0-9
for (const c of '.-_') classes[c.charCodeAt(0)] = 1
for (let c = 0x41; c <= 0x5a; c++) classes[c] = 2 // A-Z

// A character the standard names for a reason of its own, rather than as outside the character set: a
// `:` or `@` in the authority is a port or user info; in the path it is only a character outside the set.
function namedRule(code: number, inTrustDomain: boolean): SpiffeIdRule | undefined {
  switch (code) {
    case 0x3a: // :
      return inTrustDomain ? 'port' : undefined
    case 0x40: // @
      return inTrustDomain ? 'userinfo' : undefined
    case 0x3f: // ?
      return 'query'
    case 0x23: // #
      return 'fragment'
    case 0x25: // %
      return 'percent_encoding'
    default:
      return undefined
  }
}

/**
 * Reads a SPIFFE ID without throwing: its parts, or the rule it breaks. One pass over the string, after
 * its length is checked; no regular expression. For hot paths that refuse without building an error.
 *
 * @example
 * const read = readSpiffeId('spiffe://example.org/api') // { id, trustDomain: 'example.org', path: '/api' }
 * const rule = readSpiffeId('spiffe://example.org/api/') // 'trailing_slash'
 * @see https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md#2-spiffe-identity
 */
export function readSpiffeId(value: unknown): SpiffeId | SpiffeIdRule {
  if (typeof value !== 'string') return 'not_a_string'
  if (value.length > maxIdLength) return 'too_long'
  // §2: the scheme is `spiffe`, in lower case; `SPIFFE://` is not a SPIFFE ID.
  if (!value.startsWith(prefix)) return 'scheme'
  const length = value.length
  let at = prefix.length
  // §2.1 the trust domain, up to the first `/`.
  while (at < length) {
    const code = value.charCodeAt(at)
    if (code === 0x2f) break
    if (code >= 128 || classes[code] !== 1) return namedRule(code, true) ?? 'trust_domain_charset'
    at++
  }
  const domainLength = at - prefix.length
  if (domainLength === 0) return 'empty_trust_domain'
  if (domainLength > maxTrustDomainLength) return 'trust_domain_too_long'
  const trustDomain = value.slice(prefix.length, at)
  const pathStart = at
  // §2.2 the path: segments after `/`, none empty, none `.` or `..`, no trailing `/`.
  while (at < length) {
    // `at` is on a `/`.
    const segmentStart = at + 1
    let end = segmentStart
    while (end < length) {
      const code = value.charCodeAt(end)
      if (code === 0x2f) break
      if (code >= 128 || classes[code] === 0) return namedRule(code, false) ?? 'path_charset'
      end++
    }
    const segmentLength = end - segmentStart
    if (segmentLength === 0) return end === length ? 'trailing_slash' : 'empty_segment'
    if (value.charCodeAt(segmentStart) === 0x2e) {
      if (segmentLength === 1) return 'dot_segment'
      if (segmentLength === 2 && value.charCodeAt(segmentStart + 1) === 0x2e) return 'dot_segment'
    }
    at = end
  }
  return { id: value, trustDomain, path: value.slice(pathStart) }
}

/**
 * Parses a SPIFFE ID by the rules of the SPIFFE ID standard: the scheme `spiffe` in lower case; a trust
 * domain of `a-z 0-9 . - _`, not empty, at most 255 characters; path segments of `a-z A-Z 0-9 . - _`,
 * none empty, `.` or `..`, and no trailing `/`; no port, user info, query, fragment or percent-encoding;
 * at most 2048 bytes.
 *
 * @example
 * parseSpiffeId('spiffe://prod.example.com/ns/shop/sa/checkout').trustDomain // 'prod.example.com'
 * @throws SpiffeIdError naming the rule broken (`err.rule`), such as `dot_segment`
 * @see https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md
 */
export function parseSpiffeId(value: string): SpiffeId {
  const read = readSpiffeId(value)
  if (typeof read === 'string') throw new SpiffeIdError(read)
  return read
}

/**
 * The rule a trust domain name alone (`prod.example.com`) breaks, by the rules of a SPIFFE ID's trust
 * domain; `undefined` when it is valid.
 *
 * @example
 * trustDomainRule('Prod.example.com') // 'trust_domain_charset'
 */
export function trustDomainRule(value: unknown): SpiffeIdRule | undefined {
  if (typeof value !== 'string') return 'not_a_string'
  if (value.length === 0) return 'empty_trust_domain'
  if (value.length > maxTrustDomainLength) return 'trust_domain_too_long'
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code >= 128 || classes[code] !== 1) return namedRule(code, true) ?? 'trust_domain_charset'
  }
  return undefined
}
