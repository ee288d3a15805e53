import type { CustomFetchOptions } from 'oauth4webapi'
import { unavailable } from './translate-error.js'

/** The fetch oauth4webapi calls through its `customFetch` option, for discovery and introspection. */
export type OAuthFetch = (
  url: string,
  options: CustomFetchOptions<'GET' | 'POST', URLSearchParams | undefined>,
) => Promise<Response>

/**
 * Introspection answers are small JSON objects; anything larger is not one, and reading it whole would
 * let the endpoint (or whoever sits on its path) exhaust our memory.
 */
export const maxResponseBytes = 1024 * 1024

/**
 * Wraps a fetch so that the whole body is read under the request's signal and at most
 * {@link maxResponseBytes} of it, before oauth4webapi parses it. The returned response holds the bytes.
 */
export function boundedFetch(fetch: typeof globalThis.fetch): OAuthFetch {
  return async function fetchBounded(url, options) {
    const { body, signal, ...rest } = options
    const init: RequestInit = {
      ...rest,
      ...(body === undefined ? {} : { body }),
      ...(signal === undefined ? {} : { signal }),
    }
    let response: Response
    try {
      response = await fetch(url, init)
    } catch (error) {
      // A kept-alive connection the server closed as we reused it: introspection has no side effects,
      // so it is sent once more on a new connection (undici only retries idempotent methods itself).
      if (signal?.aborted || !isConnectionReset(error)) throw error
      response = await fetch(url, init)
    }
    const declared = Number(response.headers.get('content-length') ?? 0)
    if (declared > maxResponseBytes) {
      await response.body?.cancel().catch(() => {})
      throw unavailable('introspection_too_large')
    }
    const bytes = await readAtMost(response, maxResponseBytes)
    return new Response(response.status === 204 || response.status === 304 ? null : bytes, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    })
  }
}

async function readAtMost(response: Response, limit: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw unavailable('introspection_too_large')
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}

// By the codes Node and undici give a socket closed under a request, never by message.
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

function isConnectionReset(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause
  return typeof cause?.code === 'string' && resetCodes.has(cause.code)
}
