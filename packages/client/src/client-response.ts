// The answer of a call, its body already read (bounded). A WHATWG `Response` would cost more than the
// rest of the client per call (a web stream per body): this keeps the few members callers use, with the
// same names and promises, so `await res.json()` reads as it does with fetch.

/** The headers of a {@link ClientResponse}: names in lower case, as Node received them. */
export class ClientResponseHeaders {
  readonly #raw: Readonly<Record<string, string | string[] | undefined>>

  constructor(raw: Readonly<Record<string, string | string[] | undefined>>) {
    this.#raw = raw
  }

  /** The value of a header, repeated ones joined with `, ` (`set-cookie` too); `null` when absent. */
  get(name: string): string | null {
    const value = this.#raw[name.toLowerCase()]
    if (value === undefined) return null
    return typeof value === 'string' ? value : value.join(', ')
  }

  has(name: string): boolean {
    return this.#raw[name.toLowerCase()] !== undefined
  }

  /** Each header as a name and value, repeated ones once per value. */
  *entries(): IterableIterator<[string, string]> {
    for (const [name, value] of Object.entries(this.#raw)) {
      if (value === undefined) continue
      if (typeof value === 'string') yield [name, value]
      else for (const each of value) yield [name, each]
    }
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries()
  }
}

const utf8 = new TextDecoder('utf-8')

/**
 * A 2xx or 3xx answer of `zeroTrustClient().fetch()`, its body read whole (at most `maxResponseBytes`).
 *
 * @example
 * const res = await billing.fetch('/v1/charges/ch_1')
 * const charge = await res.json<{ id: string }>()
 */
export class ClientResponse {
  readonly status: number
  readonly headers: ClientResponseHeaders
  /** The body's bytes. */
  readonly body: Uint8Array

  constructor(status: number, headers: ClientResponseHeaders, body: Uint8Array) {
    this.status = status
    this.headers = headers
    this.body = body
  }

  /** Whether the status is 2xx. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }

  /** The body's bytes. */
  async bytes(): Promise<Uint8Array> {
    return this.body
  }

  /** The body as UTF-8 text. */
  async text(): Promise<string> {
    return utf8.decode(this.body)
  }

  /**
   * The body parsed as JSON.
   *
   * @throws SyntaxError when it is not JSON
   */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse(utf8.decode(this.body)) as T
  }
}
