/** The keys of an `x-forwarded-client-cert` element that Envoy writes. */
export type XfccKey = 'By' | 'Hash' | 'Cert' | 'Chain' | 'Subject' | 'URI' | 'DNS'

/**
 * One element of `x-forwarded-client-cert`: what one proxy says of the client certificate it verified.
 * Each key holds every value it had, in order (Envoy writes one `URI=` and one `DNS=` per SAN, and one
 * `By=` per URI SAN of its own certificate); a key that was absent is absent. Keys are read without
 * regard to case; keys Envoy does not define are left out.
 *
 * @example { By: ['spiffe://prod.example.com/ns/shop/sa/orders'], Hash: ['468e…'],
 *   URI: ['spiffe://prod.example.com/ns/shop/sa/checkout'] }
 */
export type XfccElement = { readonly [K in XfccKey]?: readonly string[] }

/** Why a header is not an `x-forwarded-client-cert` value: `too_long`, or `malformed`. */
export type XfccFailure = 'too_long' | 'malformed'

/**
 * An `x-forwarded-client-cert` value that could not be read. The message never quotes the header.
 *
 * @example
 * try { parseXfcc(value) } catch (err) { if (isXfccError(err)) log.warn({ failure: err.failure }) }
 */
export class XfccError extends TypeError {
  /** Every `XfccError` has this code. */
  static readonly code = 'ERR_XFCC'
  override readonly name = 'XfccError'
  readonly code = XfccError.code
  readonly failure: XfccFailure

  constructor(failure: XfccFailure) {
    super(
      failure === 'too_long'
        ? 'the x-forwarded-client-cert header is longer than allowed'
        : 'the x-forwarded-client-cert header is malformed',
    )
    this.failure = failure
  }
}

/** Whether `value` is an {@link XfccError}, by its code. */
export function isXfccError(value: unknown): value is XfccError {
  return value instanceof Error && (value as { code?: unknown }).code === XfccError.code
}

/** The longest header {@link parseXfcc} reads by default, in characters: 16 KiB. */
export const defaultMaxXfccLength = 16 * 1024

const knownKeys: ReadonlyMap<string, XfccKey> = new Map(
  (['By', 'Hash', 'Cert', 'Chain', 'Subject', 'URI', 'DNS'] as const).map((key) => [key.toLowerCase(), key]),
)

const comma = 0x2c
const semicolon = 0x3b
const equals = 0x3d
const quote = 0x22
const backslash = 0x5c
const space = 0x20
const tab = 0x09

// A character no value or key may hold, quoted or not: controls (a header value never carries CR or LF,
// but a view built by hand might).
const isControl = (code: number): boolean => (code < 0x20 && code !== tab) || code === 0x7f

/**
 * Reads an `x-forwarded-client-cert` value into its elements, without throwing: the elements, or why it
 * cannot be read. The length is checked first; then one pass, no regular expression, so the work is
 * linear in a bounded length.
 *
 * The grammar is Envoy's: elements separated by `,` (with optional spaces around, as a joined
 * repeated header has), each a `;`-separated list of `Key=Value`; a value holding `,`, `;` or `=` is
 * double-quoted, with `\"` for a quote inside; spaces around an unquoted value are dropped. Anything else (an empty element or pair, a key without
 * `=`, an unquoted value holding `=` or `"`, an unterminated quote, text after a closing quote, a
 * control character) makes the whole header malformed: a header the proxy wrote is never read
 * half-way.
 */
export function readXfcc(value: string, maxLength = defaultMaxXfccLength): XfccElement[] | XfccFailure {
  if (value.length > maxLength) return 'too_long'
  const length = value.length
  const elements: XfccElement[] = []
  let element: { [K in XfccKey]?: string[] } = {}
  let at = skipSpaces(value, 0)
  if (at === length) return 'malformed'
  while (true) {
    // A pair: the key, up to `=`.
    const keyStart = at
    while (at < length) {
      const code = value.charCodeAt(at)
      if (code === equals) break
      if (code === comma || code === semicolon || code === quote || code === space || isControl(code)) {
        return 'malformed'
      }
      at++
    }
    if (at === length || at === keyStart) return 'malformed'
    const key = knownKeys.get(value.slice(keyStart, at).toLowerCase())
    at++ // past `=`
    // The value: quoted, or up to the next `;`, `,` or end.
    let text: string
    if (at < length && value.charCodeAt(at) === quote) {
      at++
      let start = at
      let parts: string | undefined
      while (true) {
        if (at === length) return 'malformed'
        const code = value.charCodeAt(at)
        if (code === quote) break
        if (isControl(code)) return 'malformed'
        // Envoy escapes only the quote; any other backslash is the value's own (a Subject's `\,`).
        if (code === backslash && at + 1 < length && value.charCodeAt(at + 1) === quote) {
          parts = (parts ?? '') + value.slice(start, at)
          start = at + 1
          at += 2
          continue
        }
        at++
      }
      text = parts === undefined ? value.slice(start, at) : parts + value.slice(start, at)
      at++ // past the closing quote
    } else {
      let start = at
      while (at < length) {
        const code = value.charCodeAt(at)
        if (code === semicolon || code === comma) break
        if (code === equals || code === quote || isControl(code)) return 'malformed'
        at++
      }
      // Spaces around an unquoted value are the list's, not the value's (a joined header's `, `).
      let end = at
      while (end > start && isSpace(value.charCodeAt(end - 1))) end--
      while (start < end && isSpace(value.charCodeAt(start))) start++
      text = value.slice(start, end)
    }
    if (key !== undefined) {
      const values = element[key]
      if (values === undefined) element[key] = [text]
      else values.push(text)
    }
    // After a value: `;` and the next pair, or the end of the element.
    const afterValue = at
    at = skipSpaces(value, at)
    if (at === length) break
    const code = value.charCodeAt(at)
    // An unquoted value ends at the `;` itself; a space between a closing quote and `;` is malformed.
    if (code === semicolon && at === afterValue) {
      at++
      continue
    }
    if (code !== comma) return 'malformed'
    elements.push(element)
    element = {}
    at = skipSpaces(value, at + 1)
    if (at === length) return 'malformed' // a trailing comma: an empty element
  }
  elements.push(element)
  return elements
}

const isSpace = (code: number): boolean => code === space || code === tab

function skipSpaces(value: string, from: number): number {
  let at = from
  while (at < value.length && isSpace(value.charCodeAt(at))) at++
  return at
}

/**
 * Parses Envoy's `x-forwarded-client-cert` header into its elements, the first proxy's first and the
 * last proxy's (the one next to this service) last.
 *
 * Trust a value only from the local sidecar, which overwrites or appends to whatever the client sent
 * (`forward_client_cert_details`); `workloadIdentity({ source: 'xfcc' })` does that and reads the last
 * element.
 *
 * @example
 * parseXfcc('By=spiffe://td/orders;Hash=ab12;URI=spiffe://td/checkout')
 * // [{ By: ['spiffe://td/orders'], Hash: ['ab12'], URI: ['spiffe://td/checkout'] }]
 * @throws XfccError `too_long` past `maxLength` characters (16 KiB by default), `malformed` otherwise
 * @see https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert
 */
export function parseXfcc(value: string, maxLength = defaultMaxXfccLength): XfccElement[] {
  const read = readXfcc(String(value), maxLength)
  if (typeof read === 'string') throw new XfccError(read)
  return read
}
