// RFC 6750 §3: attribute values are quoted-strings restricted to printable ASCII; error and
// error_description forbid '"' and '\' outright. We drop anything outside %x20-7E (so no CR/LF can
// split a header) and escape '"' and '\' for the remaining quoted-string parameters.
const notPrintable = /[^\x20-\x7e]/g
const needsEscape = /["\\]/g

/** A quoted-string safe for any auth-param value. */
export function quote(value: string): string {
  return `"${value.replace(notPrintable, '').replace(needsEscape, '\\$&')}"`
}

/** Printable ASCII without '"' and '\', as RFC 6750 requires for `error_description`. */
export function descriptionText(value: string): string {
  return value.replace(notPrintable, '').replace(needsEscape, "'")
}
