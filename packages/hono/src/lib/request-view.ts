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
  const method = incoming.method
  if (method !== request.method && method?.toUpperCase() !== request.method.toUpperCase()) return undefined
  return sameTarget(incoming.url ?? '', request.url) ? incoming : undefined
}

/**
 * Whether the Node request's target ends with the Fetch request's. The Fetch URL @hono/node-server builds
 * is `<scheme>://<authority>` followed by the Node target itself, which is told without the scheme
 * pattern of `requestTarget`; a mounted app's rewritten URL, or any other, takes the full comparison.
 */
function sameTarget(nodeTarget: string, url: string): boolean {
  const authorityEnd = url.length - nodeTarget.length
  if (
    authorityEnd > 0 &&
    nodeTarget.charCodeAt(0) === slash &&
    url.endsWith(nodeTarget) &&
    !nodeTarget.includes('#')
  ) {
    const schemeEnd = url.indexOf('://')
    if (schemeEnd > 0 && url.indexOf('/', schemeEnd + 3) === authorityEnd) return true
  }
  return nodeTarget.endsWith(requestTarget(url))
}

const slash = 0x2f

function isNodeRequest(value: unknown): value is NodeRequestSource {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as { readonly rawHeaders?: unknown; readonly socket?: unknown }
  return (
    Array.isArray(candidate.rawHeaders) && typeof candidate.socket === 'object' && candidate.socket !== null
  )
}
