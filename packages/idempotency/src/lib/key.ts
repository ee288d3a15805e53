import { ZeroTrustError } from '@zerotrust/core'

// The optional whitespace (RFC 9110 §5.6.3) a field value may carry around the key, in characters. Node
// and Fetch servers strip it already; more than this is no honest client's, and is refused.
const maxPadding = 64

/** How a key may be written: the draft's quoted sf-string only, or also a bare key of safe characters. */
export type KeyFormat = 'sf-string' | 'lenient'

/**
 * Parses an `Idempotency-Key` field value: one RFC 8941 sf-string (a quoted string of printable ASCII
 * with `\"` and `\\` escapes), of 1 to `maxLength` characters once unescaped. Anything else, parameters
 * included, is refused: a key read loosely could match another request's.
 *
 * A bare key (a Stripe-style `Idempotency-Key: 8e03978e-…`) is refused as `key_not_quoted` when it would
 * be a valid key once quoted, so the problem can tell the client to send `"<key>"`. With `format`
 * `'lenient'` such a bare key is accepted as the same key its quoted form names: `abc` and `"abc"` are
 * one key. Only printable ASCII without space, `"`, `\`, `,` and `;` is read bare, so a joined list
 * (`a, b`) or a parameter (`a;p=1`) is never taken for a key.
 *
 * The field's length is bounded before anything reads it (a quoted key at most doubles through
 * escapes, plus {@link maxPadding} of whitespace), and it is read in one pass without a regular
 * expression: the time it takes grows linearly with the field, and a field far longer than any key
 * costs nothing but the length check (issue 12).
 *
 * @throws ZeroTrustError `invalid_idempotency_key` (400) with the reason
 * @see https://www.rfc-editor.org/rfc/rfc8941#section-3.3.3
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07#section-2
 */
export function parseIdempotencyKey(
  field: string,
  maxLength: number,
  format: KeyFormat = 'sf-string',
): string {
  if (field.length > 2 * maxLength + 2 + maxPadding) throw keyError('key_too_long', 'is longer than allowed')
  let start = 0
  let end = field.length
  while (start < end && isPadding(field.charCodeAt(start))) start++
  while (end > start && isPadding(field.charCodeAt(end - 1))) end--
  if (field.length - (end - start) > maxPadding) throw malformed()
  const value = field.slice(start, end)
  // A quoted key can at most double in length through escapes; longer input is refused unread.
  if (value.length > 2 * maxLength + 2) throw keyError('key_too_long', 'is longer than allowed')
  if (value.charCodeAt(0) !== 0x22) {
    if (!isBareKey(value)) throw malformed()
    if (value.length > maxLength) throw keyError('key_too_long', 'is longer than allowed')
    if (format === 'lenient') return value
    throw keyError(
      'key_not_quoted',
      'must be a quoted structured-field string: send "<key>", in double quotes',
    )
  }
  let out = ''
  let i = 1
  for (; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code === 0x5c) {
      const next = value.charCodeAt(i + 1)
      if (next !== 0x22 && next !== 0x5c) throw malformed()
      out += value[i + 1]
      i++
    } else if (code === 0x22) {
      break
    } else if (code < 0x20 || code > 0x7e) {
      throw malformed()
    } else {
      out += value[i]
    }
  }
  // No closing quote, or anything (parameters, a second key) after it.
  if (i !== value.length - 1) throw malformed()
  if (out.length === 0) throw keyError('empty_key', 'is empty')
  if (out.length > maxLength) throw keyError('key_too_long', 'is longer than allowed')
  return out
}

/**
 * Whether `value` is a non-empty run of printable ASCII without SP, `"`, `\\`, `,` and `;`, and no
 * byte sequence.
 */
function isBareKey(value: string): boolean {
  if (value.length === 0) return false
  // `:…:` is an RFC 8941 byte sequence, another type than the draft's: refused as malformed, not hinted.
  if (value.length > 1 && value.charCodeAt(0) === 0x3a && value.charCodeAt(value.length - 1) === 0x3a)
    return false
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x21 || code > 0x7e || code === 0x22 || code === 0x5c || code === 0x2c || code === 0x3b)
      return false
  }
  return true
}

/** SP or HTAB: the optional whitespace around a field value. */
function isPadding(code: number): boolean {
  return code === 0x20 || code === 0x09
}

function malformed(): ZeroTrustError {
  return keyError('malformed_key', 'must be one quoted structured-field string')
}

function keyError(reason: string, text: string): ZeroTrustError {
  return new ZeroTrustError('invalid_idempotency_key', `the "Idempotency-Key" header ${text}`, { reason })
}
