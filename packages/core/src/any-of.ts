import type { Authenticator } from './auth.js'

/**
 * Combines authenticators: each request goes to the first one that `accepts` its credential (by token
 * shape: a JWT to `jwtBearer`, an opaque token to `introspection`). When none accepts, the first one
 * answers, so a request without credentials gets its challenge.
 *
 * @example
 * const tokens = anyOf(jwtBearer({ ... }), introspection({ ... }))
 * @throws TypeError when no authenticator is given
 */
export function anyOf(...authenticators: readonly Authenticator[]): Authenticator {
  const first = authenticators[0]
  if (first === undefined) throw new TypeError('anyOf: needs at least one authenticator')
  for (const [i, a] of authenticators.entries()) {
    if (typeof a?.authenticate !== 'function') {
      throw new TypeError(`anyOf: argument ${i} must be an authenticator`)
    }
  }
  const pick = (req: Parameters<Authenticator['authenticate']>[0]): Authenticator => {
    for (const a of authenticators) if (a.accepts === undefined || a.accepts(req)) return a
    return first
  }
  return {
    layer: authenticators.map((a) => a.layer).join('|'),
    authenticate: (req) => pick(req).authenticate(req),
    accepts: (req) => authenticators.some((a) => a.accepts === undefined || a.accepts(req)),
  }
}
