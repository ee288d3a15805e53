import type { Request } from 'express'

/**
 * Checks a `mountPath` option (`authorize()`, `idempotent()`) once, at construction: the pattern a
 * router is mounted at, without its trailing slash.
 *
 * @throws TypeError naming the option when it is not a path pattern
 */
export function checkMountPath(factory: string, mountPath: unknown): string | undefined {
  if (mountPath === undefined) return undefined
  if (typeof mountPath !== 'string' || !mountPath.startsWith('/')) {
    throw new TypeError(`${factory}: "mountPath" option must be a path pattern starting with "/"`)
  }
  let end = mountPath.length
  while (end > 0 && mountPath.charCodeAt(end - 1) === 0x2f) end--
  return mountPath.slice(0, end)
}

/**
 * The pattern of the route `req` matched, with the router's `mountPath`; `undefined` outside a route or
 * inside a mounted router without `mountPath`.
 *
 * `req.route` exists once a route matched (not in `app.use()` middleware). A route defined by a RegExp
 * or an array of paths has no single pattern. `req.baseUrl` is never used as a pattern: it is the text
 * the client sent (`/ADMIN` for a mount at `/admin`, `/tenants/acme` for `/tenants/:tenant`), and an
 * action built from it would let a client pick its policy.
 */
export function routePattern(req: Request, mountPath: string | undefined): string | undefined {
  const path: unknown = req.route?.path
  if (typeof path !== 'string') return undefined
  if (req.baseUrl === '') return path
  if (mountPath === undefined) return undefined
  // A router's root route under `/api` is `/api`, not `/api/`.
  return path === '/' && mountPath !== '' ? mountPath : `${mountPath}${path}`
}

/** The route's parameters as strings: Express 5 gives a wildcard (`/*splat`) its segments as an array. */
export function routeParams(params: Request['params'] | undefined): Record<string, string> | undefined {
  if (params === undefined) return undefined
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    if (typeof value === 'string') out[name] = value
    else if (Array.isArray(value)) out[name] = value.join('/')
  }
  return out
}
