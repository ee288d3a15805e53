import type { Context } from 'koa'

/**
 * The pattern @koa/router matched (`ctx._matchedRoute`, with the router's prefix), which it sets with
 * `ctx.params` before a route's middleware runs; a route defined by a RegExp has no pattern to name.
 */
export function matchedRoute(ctx: Context): string | undefined {
  const route: unknown = (ctx as { _matchedRoute?: unknown })._matchedRoute
  return typeof route === 'string' ? route : undefined
}

/** The matched route's parameters that are strings. */
export function stringParams(params: unknown): Record<string, string> | undefined {
  if (typeof params !== 'object' || params === null) return undefined
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string') out[name] = value
  return out
}

/** What @koa/router keeps of each layer that matched the path (`ctx.matched`). */
interface MatchedLayer {
  readonly path?: unknown
  readonly methods?: unknown
  readonly opts?: { readonly end?: unknown }
}

/**
 * The pattern of the route whose whole path the request matched: {@link matchedRoute} when a route of
 * @koa/router (a layer with methods, matched to the end of the path) has it, else `undefined`. A
 * `router.use('/orders', …)` middleware also sets `ctx._matchedRoute` to `/orders`, but for every path
 * under it (`/orders/7/refund` too), so that pattern does not name the resource.
 */
export function wholeRoute(ctx: Context): string | undefined {
  const route = matchedRoute(ctx)
  if (route === undefined) return undefined
  const matched: unknown = (ctx as { matched?: unknown }).matched
  if (!Array.isArray(matched)) return undefined
  const whole = (matched as MatchedLayer[]).some(
    (layer) =>
      layer.path === route &&
      Array.isArray(layer.methods) &&
      layer.methods.length > 0 &&
      layer.opts?.end !== false,
  )
  return whole ? route : undefined
}
