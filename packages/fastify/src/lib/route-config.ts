import { createRequire } from 'node:module'
import type { FastifyRequest } from 'fastify'

// Fastify 5's `request.routeOptions` builds a new object of a dozen members on every read, and asks the
// router whether versions are in use: about as much as the rest of the plugin's hook (benchmarks/RESULTS.md,
// "HTTP overhead per framework"). The route's config is the same object on the route context Fastify
// keeps on each request, under a symbol of its own; it is read there, and through `routeOptions` when the
// symbol is not found (a Fastify that moved it). A test holds the two to the same object.
const kRouteContext: symbol | undefined = (() => {
  try {
    const symbols = createRequire(import.meta.url)('fastify/lib/symbols.js') as { kRouteContext?: unknown }
    return typeof symbols.kRouteContext === 'symbol' ? symbols.kRouteContext : undefined
  } catch {
    return undefined
  }
})()

interface RouteContext {
  readonly config?: FastifyRequest['routeOptions']['config']
}

/** The config of the route that `request` matched, `request.routeOptions.config`, without building the rest. */
export function routeConfig(request: FastifyRequest): FastifyRequest['routeOptions']['config'] {
  const context =
    kRouteContext === undefined
      ? undefined
      : (request as unknown as Record<symbol, RouteContext | undefined>)[kRouteContext]
  return context?.config ?? request.routeOptions.config
}

/** Whether the route config is read from the route context rather than from `routeOptions`. */
export const readsRouteContext = kRouteContext !== undefined
