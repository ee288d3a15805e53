// RFC 9110 §11.6.1: WWW-Authenticate = #challenge; challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ];
// auth-param = token BWS "=" BWS ( token / quoted-string ). The header comes from the called service:
// it is bounded before it is read, and a malformed one yields what was read before the fault.

/** One challenge of a `WWW-Authenticate` answer. */
export interface Challenge {
  /** The auth-scheme in lower case: `bearer`, `dpop`. */
  readonly scheme: string
  /** Its auth-params, names in lower case; quoted values unescaped. */
  readonly params: Readonly<Record<string, string>>
}

/** Longest header read; past it, no challenge is read at all. */
export const maxChallengeHeaderLength = 8192
const maxChallenges = 16
const maxParams = 32

const tchar = /[!#$%&'*+.^_`|~0-9A-Za-z-]/
const token68Char = /[A-Za-z0-9\-._~+/]/

/**
 * The challenges of a `WWW-Authenticate` header (several header lines joined with `, `).
 *
 * @example
 * parseChallenges('DPoP error="use_dpop_nonce", algs="ES256"')
 * // [{ scheme: 'dpop', params: { error: 'use_dpop_nonce', algs: 'ES256' } }]
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (header === undefined || header.length === 0 || header.length > maxChallengeHeaderLength) return []
  const found: Challenge[] = []
  const reader = new Reader(header)
  while (found.length < maxChallenges) {
    reader.skipListSeparators()
    if (reader.done()) break
    const scheme = reader.token()
    if (scheme === undefined) break
    const params: Record<string, string> = Object.create(null)
    found.push({ scheme: scheme.toLowerCase(), params })
    if (!reader.spaces()) {
      if (reader.done() || reader.peek() === ',') continue
      break
    }
    if (reader.token68Alone()) continue
    let count = 0
    while (count < maxParams) {
      const mark = reader.at
      const name = reader.token()
      reader.ows()
      if (name === undefined || reader.peek() !== '=') {
        // Not an auth-param: the next challenge starts here.
        reader.at = mark
        break
      }
      reader.at++
      reader.ows()
      const value = reader.peek() === '"' ? reader.quoted() : reader.token()
      if (value === undefined) return found
      const key = name.toLowerCase()
      // RFC 9110 §11.2: each parameter name appears at most once; a repeat makes the first one stand.
      if (!(key in params)) params[key] = value
      count++
      reader.ows()
      if (reader.peek() !== ',') break
      const comma = reader.at
      reader.skipListSeparators()
      const next = reader.at
      const nextName = reader.token()
      reader.ows()
      const isParam = nextName !== undefined && reader.peek() === '='
      reader.at = isParam ? next : comma
      if (!isParam) break
    }
  }
  return found
}

class Reader {
  at = 0
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.at >= this.text.length
  }

  peek(): string | undefined {
    return this.text[this.at]
  }

  ows(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.at++
  }

  spaces(): boolean {
    const start = this.at
    this.ows()
    return this.at > start
  }

  skipListSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.at++
  }

  token(): string | undefined {
    const start = this.at
    while (!this.done() && tchar.test(this.text[this.at] as string)) this.at++
    return this.at > start ? this.text.slice(start, this.at) : undefined
  }

  /** A token68 credential alone after the scheme (`Negotiate abc==`), which is skipped. */
  token68Alone(): boolean {
    const start = this.at
    while (!this.done() && token68Char.test(this.text[this.at] as string)) this.at++
    if (this.at === start) return false
    while (this.peek() === '=') this.at++
    this.ows()
    if (this.done() || this.peek() === ',') return true
    this.at = start
    return false
  }

  quoted(): string | undefined {
    let value = ''
    this.at++
    while (!this.done()) {
      const char = this.text[this.at] as string
      this.at++
      if (char === '"') return value
      if (char === '\\') {
        if (this.done()) return undefined
        value += this.text[this.at]
        this.at++
      } else {
        value += char
      }
    }
    return undefined
  }
}
