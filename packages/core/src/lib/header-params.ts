// RFC 6750 §3: attribute values are quoted-strings restricted to printable ASCII; error and
// error_description forbid '"' and '\' outright. We drop anything outside %x20-7E (so no CR/LF can
// split a header) and escape '"' and '\' for the remaining quoted-string parameters.
const notPrintable = /[^\x20-\x7e]/g
const needsEscape = /["\\]/g

/** A quoted-string safe for any auth-param value. */
export function quote(value: string): string {
  return `"${value.replace(notPrintable, '').replace(needsEscape, '\\$&')}"`
}

// RFC 9110 §5.1, §5.6.2: a field name, an auth-scheme and an auth-param name are tokens.
const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// RFC 9110 §5.5: a field value is visible ASCII with SP and HTAB between; never CR, LF or NUL. (obs-text
// is not written by us.)
const fieldValue = /^[\t\x20-\x7e]*$/

/** Whether `value` is an RFC 9110 token: a header name, an auth-scheme, an auth-param name. */
export function isToken(value: unknown): value is string {
  return typeof value === 'string' && token.test(value)
}

/** Whether `value` can be sent as a header value as it is: printable ASCII, SP and HTAB only. */
export function isFieldValue(value: unknown): boolean {
  return typeof value === 'string' && fieldValue.test(value)
}

/** Printable ASCII without '"' and '\', as RFC 6750 requires for `error_description`. */
export function descriptionText(value: string): string {
  return value.replace(notPrintable, '').replace(needsEscape, "'")
}
