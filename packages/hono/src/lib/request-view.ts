import type { RequestLike } from '@zerotrust/core'
import {
  fromFetchRequest,
  fromNodeRequest,
  type NodeRequestSource,
  type OriginResolver,
  requestTarget,
} from '@zerotrust/core/adapter'
import type { Context } from 'hono'

/**
 * The request view of a Hono context. On @hono/node-server, `c.env.incoming` is the Node request: its
 * raw headers keep a repeated `Authorization` header visible (Fetch `Headers` join them), its socket has
 * the peer certificate, and its URL is the target the client sent (also under `app.mount()`, which
 * rewrites the Fetch request). Everywhere else, the Fetch request.
 */
export function requestView(c: Context, resolveOrigin: OriginResolver): RequestLike {
  const request = c.req.raw
  const incoming = nodeRequestOf(c.env, request)
  if (incoming !== undefined) return fromNodeRequest(incoming, { resolveOrigin })
  return fromFetchRequest(request, { resolveOrigin })
}

/**
 * `c.env.incoming` when it is the Node request behind `request`. `c.env` travels with `app.mount()` and
 * with requests an app dispatches to itself (`app.fetch(new Request(...), c.env)`): the Node request
 * must carry the same method, and a target that ends with the Fetch request's, or it is another request
 * whose headers must not be read.
 */
function nodeRequestOf(env: unknown, request: Request): NodeRequestSource | undefined {
  if (typeof env !== 'object' || env === null) return undefined
  const incoming = (env as { readonly incoming?: unknown }).incoming
  if (!isNodeRequest(incoming)) return undefined
  if (incoming.method?.toUpperCase() !== request.method.toUpperCase()) return undefined
  return (incoming.url ?? '').endsWith(requestTarget(request.url)) ? incoming : undefined
}

function isNodeRequest(value: unknown): value is NodeRequestSource {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as { readonly rawHeaders?: unknown; readonly socket?: unknown }
  return (
    Array.isArray(candidate.rawHeaders) && typeof candidate.socket === 'object' && candidate.socket !== null
  )
}
