// Node's `subjectAltName` string, read back into its entries.

/** One subject alternative name, such as `{ type: 'URI', value: 'spiffe://example.org/api' }`. */
export interface AltName {
  readonly type: string
  readonly value: string
}

// A certificate's names are bounded by the certificate, itself bounded by the TLS stack; this bounds the
// string a hand-built request view could carry.
const maxAltNamesLength = 64 * 1024

const comma = 0x2c
const space = 0x20
const colon = 0x3a
const quote = 0x22
const backslash = 0x5c

/**
 * The entries of Node's `subjectAltName` (`URI:spiffe://a/b, DNS:x.example`), or `undefined` when the
 * string cannot be read. Node writes entries as `Type:value` joined by `, `, and writes a value holding a
 * comma, a quote, a backslash, an apostrophe or a control character as a JSON string
 * (`URI:"spiffe://a/b\u002cc"`), so that no value can pose as another entry. One pass: a type up to its
 * `:`; a quoted value decoded up to its closing quote (only the escapes Node writes: `\\`, `\"`,
 * `\uXXXX`); an unquoted value up to the next `,`, which must be followed by a space. Anything else
 * refuses the whole string: a name that cannot be read is never guessed at.
 *
 * @example
 * altNames('URI:"spiffe://a/b\\u002cc", DNS:x') // [{ type: 'URI', value: 'spiffe://a/b,c' }, { type: 'DNS', value: 'x' }]
 */
export function altNames(text: string): AltName[] | undefined {
  if (text.length > maxAltNamesLength) return undefined
  const names: AltName[] = []
  const length = text.length
  let at = 0
  while (at < length) {
    const typeStart = at
    while (at < length) {
      const code = text.charCodeAt(at)
      if (code === colon) break
      if (code === comma || code === quote) return undefined
      at++
    }
    if (at === length || at === typeStart) return undefined
    const type = text.slice(typeStart, at)
    at++ // past `:`
    let value: string
    if (at < length && text.charCodeAt(at) === quote) {
      let decoded = ''
      let start = at + 1
      at = start
      while (true) {
        if (at >= length) return undefined
        const code = text.charCodeAt(at)
        if (code === quote) break
        if (code !== backslash) {
          at++
          continue
        }
        decoded += text.slice(start, at)
        const escaped = text.charCodeAt(at + 1)
        if (escaped === quote || escaped === backslash) {
          decoded += String.fromCharCode(escaped)
          at += 2
        } else if (escaped === 0x75 /* u */) {
          const unit = hex4(text, at + 2)
          if (unit === -1) return undefined
          decoded += String.fromCharCode(unit)
          at += 6
        } else {
          return undefined
        }
        start = at
      }
      value = decoded + text.slice(start, at)
      at++ // past the closing quote
    } else {
      const start = at
      while (at < length) {
        const code = text.charCodeAt(at)
        if (code === comma) break
        // An unquoted value never holds a quote or a backslash: Node would have quoted it.
        if (code === quote || code === backslash) return undefined
        at++
      }
      value = text.slice(start, at)
    }
    names.push({ type, value })
    if (at === length) break
    if (text.charCodeAt(at) !== comma || text.charCodeAt(at + 1) !== space || at + 2 === length)
      return undefined
    at += 2
  }
  return names
}

function hex4(text: string, from: number): number {
  if (from + 4 > text.length) return -1
  let unit = 0
  for (let i = from; i < from + 4; i++) {
    const code = text.charCodeAt(i)
    const digit =
      code >= 0x30 && code <= 0x39
        ? code - 0x30
        : code >= 0x61 && code <= 0x66
          ? code - 0x57
          : code >= 0x41 && code <= 0x46
            ? code - 0x37
            : -1
    if (digit === -1) return -1
    unit = unit * 16 + digit
  }
  return unit
}
