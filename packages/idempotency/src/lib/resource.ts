import type { RequestLike } from '@zerotrust/core'

/** What a key is scoped to, and what the fingerprint names of the request's target. */
export interface Resource {
  /**
   * The scope in the store key: the path as received, or `[route, params]` where the route is known (an
   * array, so it never equals a path).
   */
  readonly scope: string | readonly [string, readonly (readonly [string, string])[]]
  /** The target the fingerprint hashes: the path and query, or the route, its parameters and the query. */
  readonly target: string
}

/**
 * The resource a request targets, as idempotency keys are scoped to it. Where the adapter knows the
 * matched route (`req.route`, such as `/orders/:id`, and `req.params`), the route and its parameters
 * name it: every path the router matches to that route with those parameters (`/orders/7/` and
 * `/Orders/7` on a router that ignores case and a trailing slash, as Express's and Koa's do by default)
 * is one resource, so a retry spelled either way replays instead of running twice (issue 12). Elsewhere
 * (idempotent() mounted as app-wide middleware, or a route without a usable pattern) the path as received
 * names it.
 *
 * A pattern names a resource only when its parameters hold every part of the path it leaves open: one
 * with a parameter that has no value, an unnamed wildcard (`*`) or a regular-expression group would let
 * two different paths share one key, so such a pattern is not used and the path is.
 */
export function resourceOf(req: RequestLike): Resource {
  const { route, params } = req
  if (typeof route !== 'string' || route.length === 0 || !namesEveryPart(route, params ?? {})) {
    return { scope: req.path, target: req.target }
  }
  const entries = Object.entries(params ?? {})
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const scope = [route, entries] as const
  const queryAt = req.target.indexOf('?')
  return { scope, target: `${JSON.stringify(scope)}${queryAt === -1 ? '' : req.target.slice(queryAt)}` }
}

/**
 * Whether every parameter of `route` (`:name`, `*name`) has a value in `params`, and the route has no
 * unnamed wildcard or group. One pass over the pattern, which comes from the application's code.
 */
function namesEveryPart(route: string, params: Readonly<Record<string, string>>): boolean {
  for (let i = 0; i < route.length; i++) {
    const code = route.charCodeAt(i)
    if (code === 0x28 /* ( */) return false
    if (code !== 0x3a /* : */ && code !== 0x2a /* * */) continue
    let end = i + 1
    while (end < route.length && isNameCharacter(route.charCodeAt(end))) end++
    const name = route.slice(i + 1, end)
    if (name.length === 0 || typeof params[name] !== 'string') return false
    i = end - 1
  }
  return true
}

/** `[A-Za-z0-9_$]`: the characters of a parameter name in every router we adapt. */
function isNameCharacter(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f ||
    code === 0x24
  )
}
