/**
 * Whether the query of a request target names the parameter `name` once decoded the way frameworks
 * decode parameter names: `%XX` (and the `%uXXXX` of `qs` in latin1 mode) as the byte or character it
 * encodes, `+` as a space. So `?%61ccess_token=x`, which Express, Koa, Fastify and Hono all read as
 * `access_token`, is seen as `access_token`. The bracket forms of `qs` (`name[]=`, `name[key]=`) count
 * too: they put a value under `name` in Express's extended parser.
 *
 * `name` must be ASCII without `%`, `+`, `&`, `=` or `[`. Each parameter name is decoded only as far as
 * `name` is long (at most 6 characters of input per character of `name`), and scanning stops at the
 * first mismatch, so the cost is linear in the target whatever it holds; malformed percent-encoding is
 * compared as it stands (as the frameworks keep it) and never throws.
 *
 * @example
 * hasQueryParameter('/orders?%61ccess_token=x', 'access_token') // true
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.3
 */
export function hasQueryParameter(target: string, name: string): boolean {
  const end = target.length
  let start = target.indexOf('?')
  if (start === -1) return false
  start += 1
  while (start <= end) {
    if (nameMatches(target, start, end, name)) return true
    const next = target.indexOf('&', start)
    if (next === -1) return false
    start = next + 1
  }
  return false
}

const ampersand = 0x26
const equals = 0x3d
const plus = 0x2b
const percent = 0x25
const space = 0x20
const openBracket = 0x5b

// Compares the parameter name starting at `from` with `name`, decoding one character at a time.
function nameMatches(target: string, from: number, end: number, name: string): boolean {
  let at = from
  for (let k = 0; k < name.length; k++) {
    const decoded = decodeAt(target, at, end)
    if (decoded === undefined || decoded.char !== name.charCodeAt(k)) return false
    at = decoded.next
  }
  if (at >= end) return true
  const following = target.charCodeAt(at)
  if (following === ampersand || following === equals) return true
  return decodeAt(target, at, end)?.char === openBracket
}

interface Decoded {
  readonly char: number
  readonly next: number
}

// One character of a parameter name at `at`: undefined at the end of the name (`&`, `=`, end of target).
function decodeAt(target: string, at: number, end: number): Decoded | undefined {
  if (at >= end) return undefined
  const char = target.charCodeAt(at)
  if (char === ampersand || char === equals) return undefined
  if (char === plus) return { char: space, next: at + 1 }
  if (char !== percent) return { char, next: at + 1 }
  const byte = hexAt(target, at + 1, 2, end)
  if (byte !== -1) return { char: byte, next: at + 3 }
  if (target.charCodeAt(at + 1) === 0x75 || target.charCodeAt(at + 1) === 0x55) {
    const unit = hexAt(target, at + 2, 4, end)
    if (unit !== -1) return { char: unit, next: at + 6 }
  }
  // Malformed: the frameworks keep the `%` as it is.
  return { char, next: at + 1 }
}

function hexAt(target: string, at: number, digits: number, end: number): number {
  if (at + digits > end) return -1
  let value = 0
  for (let i = at; i < at + digits; i++) {
    const digit = hexValue(target.charCodeAt(i))
    if (digit === -1) return -1
    value = value * 16 + digit
  }
  return value
}

function hexValue(char: number): number {
  if (char >= 0x30 && char <= 0x39) return char - 0x30
  const lower = char | 0x20
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10
  return -1
}
