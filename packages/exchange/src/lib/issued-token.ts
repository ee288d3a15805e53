/**
 * A token minted or exchanged for one downstream audience. Its `value` is not enumerable, so neither
 * `JSON.stringify` nor a logger prints it. The shape of `@zerotrust/client`'s `AccessToken`, with what it
 * was issued for.
 */
export interface IssuedToken {
  /** The token; never log it. */
  readonly value: string
  /** Always `Bearer`: an internal token is bound by `cnf["x5t#S256"]`, which needs no proof header. */
  readonly type: 'Bearer'
  /** When it expires, in milliseconds since the epoch. */
  readonly expiresAt: number
  /** The audience it was issued for. */
  readonly audience: string
  /** The scopes it carries. */
  readonly scopes: readonly string[]
}

/**
 * An {@link IssuedToken}: `value` is a getter on the prototype, so it is not an own enumerable property
 * and neither `JSON.stringify`, object spread nor `util.inspect` shows it.
 */
class Issued implements IssuedToken {
  readonly type = 'Bearer' as const
  readonly expiresAt: number
  readonly audience: string
  readonly scopes: readonly string[]
  readonly #value: string

  constructor(value: string, expiresAt: number, audience: string, scopes: readonly string[]) {
    this.#value = value
    this.expiresAt = expiresAt
    this.audience = audience
    this.scopes = scopes
    Object.freeze(this)
  }

  get value(): string {
    return this.#value
  }
}

/** Makes an {@link IssuedToken} whose `value` is hidden from enumeration. */
export function issuedToken(
  value: string,
  expiresAt: number,
  audience: string,
  scopes: readonly string[],
): IssuedToken {
  return new Issued(value, expiresAt, audience, scopes)
}

const none: readonly string[] = Object.freeze([])

/** A requested scope, as a frozen list of its own; `undefined` and `''` are the empty list. */
export function scopeList(scope: string | readonly string[] | undefined): readonly string[] {
  if (scope === undefined || scope === '') return none
  if (typeof scope === 'string') {
    const list = scope.split(' ')
    return Object.freeze(list.includes('') ? list.filter((s) => s !== '') : list)
  }
  return Object.freeze([...scope])
}
