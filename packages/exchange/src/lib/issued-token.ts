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

/** Makes an {@link IssuedToken} whose `value` is hidden from enumeration. */
export function issuedToken(
  value: string,
  expiresAt: number,
  audience: string,
  scopes: readonly string[],
): IssuedToken {
  const token = { type: 'Bearer', expiresAt, audience, scopes }
  Object.defineProperty(token, 'value', { value, enumerable: false })
  return Object.freeze(token) as IssuedToken
}

/** A requested scope, as a list; `undefined` and `''` are the empty list. */
export function scopeList(scope: string | readonly string[] | undefined): readonly string[] {
  if (scope === undefined) return []
  if (typeof scope === 'string') return scope === '' ? [] : scope.split(' ').filter((s) => s !== '')
  return scope
}
