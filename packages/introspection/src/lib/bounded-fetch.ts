import { type BoundedResponse, fetchBounded, isBoundedFetchError } from '@zerotrust/core/layer'
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
 * {@link maxResponseBytes} of it (core's {@link fetchBounded}: declared size checked first, bytes
 * counted as they stream, the body cancelled past the limit), before oauth4webapi parses it. The
 * returned response holds the bytes.
 */
export function boundedFetch(fetch: typeof globalThis.fetch): OAuthFetch {
  // A kept-alive connection the server closed as we reused it: introspection has no side effects, so it
  // is sent once more on a new connection (undici only retries idempotent methods itself).
  const fetchOnceMore: typeof globalThis.fetch = async (url, init) => {
    try {
      return await fetch(url, init)
    } catch (error) {
      if (init?.signal?.aborted || !isConnectionReset(error)) throw error
      return fetch(url, init)
    }
  }
  return async function fetchWithLimit(url, options) {
    const { body, signal, method, headers, redirect } = options
    let response: BoundedResponse
    try {
      response = await fetchBounded(url, {
        fetch: fetchOnceMore,
        maxBytes: maxResponseBytes,
        method,
        headers,
        redirect,
        ...(body === undefined ? {} : { body }),
        ...(signal === undefined ? {} : { signal }),
      })
    } catch (error) {
      if (isBoundedFetchError(error) && error.code === 'ERR_FETCH_TOO_LARGE') {
        throw unavailable('introspection_too_large', error)
      }
      throw error
    }
    return new Response(response.status === 204 || response.status === 304 ? null : response.body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    })
  }
}

// By the codes Node and undici give a socket closed under a request, never by message.
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

function isConnectionReset(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause
  return typeof cause?.code === 'string' && resetCodes.has(cause.code)
}
