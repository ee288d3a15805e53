// The value of each base64url character (RFC 4648 §5), -1 for anything else.
const values = new Int8Array(128).fill(-1)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) {
  values[c.charCodeAt(0)] = i
}

/**
 * Whether a string is the one canonical unpadded base64url encoding (RFC 7515 §2) of some bytes: only the
 * URL-safe alphabet, no `=` padding, a length that is not 1 mod 4, and unused trailing bits that are zero
 * (RFC 4648 §3.5). Decoders ignore those bits, so without this check one JWS has several spellings that
 * verify alike, and anything keyed on the token text (a cache, a replay store) can be sidestepped by
 * re-encoding. Runs in time linear in the length and uses no regex; bound the length before calling.
 *
 * @example
 * isCanonicalBase64url('QQ') // true: "A"
 * isCanonicalBase64url('QR') // false: also decodes to "A", with a non-zero unused bit
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-3.5
 */
export function isCanonicalBase64url(value: string): boolean {
  const rest = value.length % 4
  if (rest === 1) return false
  let last = 0
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    last = code < 128 ? (values[code] as number) : -1
    if (last === -1) return false
  }
  // Two characters carry one byte and 4 unused bits; three carry two bytes and 2 unused bits.
  if (rest === 2) return (last & 0b1111) === 0
  if (rest === 3) return (last & 0b11) === 0
  return true
}
