// The subject alternative names of a certificate, from Node's `subjectAltName` string.

/** One subject alternative name, such as `{ type: 'URI', value: 'spiffe://example.org/api' }`. */
export interface AltName {
  readonly type: string
  readonly value: string
}

// Node's string of a certificate's names is bounded by the certificate, itself bounded by its file.
const maxAltNamesLength = 64 * 1024

/**
 * The entries of Node's `subjectAltName` (`URI:spiffe://a/b, DNS:x`). Node writes a value holding a
 * comma, a quote or another character that would make the list ambiguous as a JSON string
 * (`URI:"spiffe://a/b, DNS:x"`), so a value is read as JSON when it starts with a quote, and up to the
 * next `, ` otherwise. A malformed list yields no names at all.
 */
export function subjectAltNames(text: string | undefined): AltName[] {
  if (text === undefined || text.length > maxAltNamesLength) return []
  const names: AltName[] = []
  let at = 0
  while (at < text.length) {
    const colon = text.indexOf(':', at)
    if (colon === -1) return []
    const type = text.slice(at, colon)
    let value: string
    let end: number
    if (text[colon + 1] === '"') {
      end = closingQuote(text, colon + 2)
      if (end === -1) return []
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string
      } catch {
        return []
      }
      end += 1
    } else {
      end = text.indexOf(', ', colon + 1)
      if (end === -1) end = text.length
      value = text.slice(colon + 1, end)
    }
    names.push({ type, value })
    if (end === text.length) break
    if (!text.startsWith(', ', end)) return []
    at = end + 2
  }
  return names
}

function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === '"') return i
  }
  return -1
}
