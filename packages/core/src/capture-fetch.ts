import type { IdempotencyHandle } from './idempotency.js'
import { concat } from './lib/concat.js'

/**
 * Captures a Fetch `Response` for `handle` (Hono and other Fetch servers) and returns the response to
 * send: the same status and headers, and a body that streams through as the handler produces it while
 * a copy of up to `handle.maxBodyBytes` is kept. When the body ends, the response is handed to `handle`
 * before the stream closes, so a client that retries the moment it has its answer finds it stored. A
 * longer body releases the key; a body that fails while read releases it too (the handler failed), and
 * so does a body the client cancels (it went away): the handler has returned its response, and a retry
 * runs the request again.
 *
 * @example
 * c.res = await captureFetchResponse(c.res, handle)
 */
export async function captureFetchResponse(response: Response, handle: IdempotencyHandle): Promise<Response> {
  const headers: Record<string, string | readonly string[]> = {}
  response.headers.forEach((value, name) => {
    headers[name] = value
  })
  const setCookies = response.headers.getSetCookie()
  if (setCookies.length > 0) headers['set-cookie'] = setCookies
  const { status } = response
  const init = { status, statusText: response.statusText, headers: response.headers }
  const source = response.body
  if (source === null) {
    await handle.complete({ status, headers, body: new Uint8Array(0) })
    return new Response(null, init)
  }
  const reader = source.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let overflow = false
  let cancelled = false
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let read: Awaited<ReturnType<typeof reader.read>>
      try {
        read = await reader.read()
      } catch (error) {
        await handle.release()
        if (!cancelled) controller.error(error)
        return
      }
      // A cancel ends a pending read as done: the body is cut short, and the stream closed already.
      if (cancelled) return
      if (read.done) {
        await handle.complete({ status, headers, body: overflow ? undefined : concat(chunks, size) })
        controller.close()
        return
      }
      const chunk = read.value
      if (!overflow) {
        size += chunk.byteLength
        if (size > handle.maxBodyBytes) {
          overflow = true
          chunks.length = 0
        } else {
          // The consumer owns the chunk it is handed (it may transfer it): keep a copy.
          chunks.push(chunk.slice())
        }
      }
      controller.enqueue(chunk)
    },
    async cancel(reason) {
      cancelled = true
      // Released first, so the read the cancel ends can no longer hand over a truncated body.
      await Promise.all([handle.release(), reader.cancel(reason)])
    },
  })
  return new Response(body, init)
}
