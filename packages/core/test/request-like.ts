import type { RequestLike } from '../src/request.js'

/** A `RequestLike` from plain values, for layer tests that need no HTTP server. */
export function requestLike(
  headers: Record<string, string | string[]> = {},
  init: { method?: string; target?: string; origin?: string } = {},
): RequestLike {
  const target = init.target ?? '/orders'
  const lower = Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v : [v]]),
  )
  const q = target.indexOf('?')
  return {
    method: init.method ?? 'GET',
    origin: init.origin,
    target,
    path: q === -1 ? target : target.slice(0, q),
    headerValues: (name) => lower[name.toLowerCase()] ?? [],
  }
}
