import type { StoredResponse } from './stores.js'

/** A stored response as an adapter sends it again, from {@link replayResponse}. */
export interface Replay {
  readonly status: number
  /** The stored headers; a repeated header as an array of its own, which the framework may keep. */
  readonly headers: Readonly<Record<string, string | string[]>>
  /**
   * The body to send, or `undefined` when the response carries none: send no body at all, not even an
   * empty one, and no `Content-Length` of your own.
   */
  readonly body: Uint8Array | undefined
}

/**
 * The response an adapter sends for a retry that an idempotency layer answered with a stored response
 * (`begin()` resolved `{ action: 'replay' }`): its status and headers, and its body unless the status or
 * the method carries none. Every adapter replays through this, so none keeps a list of its own.
 *
 * RFC 9110 §6.4.1: 1xx, 204 and 304 responses carry no content; §15.3.6: a server must not generate
 * content in a 205; §9.3.2: nor in a response to HEAD. A Fetch `Response` of such a status must be
 * built with a null body, and Node, Koa and Fastify drop any body they are handed for it.
 *
 * @example
 * const replay = replayResponse(begun.response, req.method)
 * res.writeHead(replay.status, replay.headers).end(replay.body)
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-6.4.1
 */
export function replayResponse(stored: StoredResponse, method: string): Replay {
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(stored.headers)) {
    headers[name] = typeof value === 'string' ? value : [...value]
  }
  const body = carriesContent(stored.status, method) ? stored.body : undefined
  return { status: stored.status, headers, body }
}

function carriesContent(status: number, method: string): boolean {
  // RFC 9110 §9.1: method names are case-sensitive; `head` is not HEAD.
  if (method === 'HEAD') return false
  return status >= 200 && status !== 204 && status !== 205 && status !== 304
}
