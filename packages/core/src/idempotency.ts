import type { Auth } from './auth.js'
import type { DecisionSink } from './decision.js'
import type { RequestLike } from './request.js'
import type { StoredResponse } from './stores.js'

/**
 * The request body as an adapter found it, for the request fingerprint.
 *
 * - `bytes`: the body as received (Hono, any Fetch server). A JSON media type is parsed and hashed in
 *   canonical form, so it fingerprints the same as a parsed body.
 * - `parsed`: what the framework's body parser produced (Express `req.body`, Fastify `request.body`, Koa
 *   `ctx.request.body`). Objects are hashed as canonical JSON (keys sorted), so key order and
 *   whitespace never make two equal payloads differ.
 * - `unparsed`: a body parser ran and left the body unread, because its media type is not one the parser
 *   reads (Express's `express.json()` leaves `req.body` undefined, `@koa/bodyparser` an empty object).
 *   That is the client's choice: a request announcing such a body is refused with 415
 *   `unsupported_media_type`, never a 500.
 */
export type RequestBody =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'parsed'; readonly value: unknown }
  | { readonly kind: 'unparsed' }

/** What an adapter hands {@link IdempotencyLayer.begin} for one request. */
export interface IdempotencyInput {
  /** The request view, as `authenticate()` built it. */
  readonly req: RequestLike
  /** The caller, as `authenticate()` proved it; `undefined` when it did not run. */
  readonly auth: Auth | undefined
  /**
   * The body, or `undefined` when the adapter found none. A request whose headers announce a body the
   * adapter could not see fails closed, as its payload could not be fingerprinted: with 415 when a body
   * parser ran and left it unread (`unparsed`, the client's media type), with 500 when no body parser
   * ran at all (`undefined`, a route mounted without one: a server misconfiguration).
   * An adapter that must read the body itself (Hono) hands a function: the layer calls it only once
   * the method and the key say the request takes part, so other requests keep their body unread.
   */
  readonly body: RequestBody | undefined | (() => Promise<RequestBody | undefined>)
  /** Where the adapter reports decisions (the `onDecision` of `authenticate()`). */
  readonly onDecision?: DecisionSink | undefined
}

/** A response as an adapter captured it, handed to {@link IdempotencyHandle.complete}. */
export interface CapturedResponse {
  readonly status: number
  /** Every header the response carried; names in any case. */
  readonly headers: Readonly<Record<string, string | number | readonly string[] | undefined>>
  /**
   * The whole body, or `undefined` when it was not captured: longer than
   * {@link IdempotencyHandle.maxBodyBytes}, or a body the adapter cannot read.
   */
  readonly body: Uint8Array | undefined
}

/**
 * The claim a first request holds on its key while its handler runs. Exactly one of `complete` and
 * `release` takes effect (the first called); later calls do nothing. `abandon` only stops the renewal.
 */
export interface IdempotencyHandle {
  /** The largest response body kept for replay: adapters stop buffering past it. */
  readonly maxBodyBytes: number
  /**
   * Hands over the response the handler produced. The layer stores it for replay (status, allowlisted
   * headers, body), or releases the key when it must not be kept (a 5xx, a body over the cap). Never
   * rejects: a store failure is reported as a decision event, and the response is sent all the same.
   */
  complete(response: CapturedResponse): Promise<void>
  /** Frees the key so a retry runs the request again (the handler threw). Never rejects. */
  release(): Promise<void>
  /**
   * Stops renewing the claim without freeing the key: the lock lapses `lockTtl` after its last renewal,
   * and retries get 409 until then. For a response whose connection closed before the handler started
   * answering: the handler may still be running, so the key must neither be freed at once nor be held
   * for as long as renewal would hold it. A `complete` that comes while the lock is still this claim's
   * is stored, so a retry gets the handler's answer instead of running it again. Never throws.
   */
  abandon(): void
}

/**
 * What {@link IdempotencyLayer.begin} decided:
 * - `proceed`: run the handler; `handle` is present when this request claimed a key, and the adapter
 *   then captures the response for it.
 * - `replay`: answer with `response` (the stored one, marked `Idempotent-Replayed: true`) without
 *   running the handler.
 */
export type IdempotencyBegin =
  | { readonly action: 'proceed'; readonly handle: IdempotencyHandle | undefined }
  | { readonly action: 'replay'; readonly response: StoredResponse }

/**
 * The framework-free contract of `Idempotency-Key` handling that every adapter's `idempotent(layer)`
 * calls; `idempotency(options)` of `@zerotrust/idempotency` builds one.
 *
 * `begin` rejects with a `ZeroTrustError`: `invalid_idempotency_key` (400), `idempotency_conflict`
 * (409, with `Retry-After`), `unsupported_media_type` (415, a body the framework left unparsed),
 * `idempotency_key_reused` (422), `dependency_unavailable` (503), or `internal_error` (500) for a
 * misconfigured route.
 *
 * @example
 * const begun = await layer.begin({ req: view, auth, body: { kind: 'parsed', value: req.body } })
 * if (begun.action === 'replay') send(begun.response)
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
 */
export interface IdempotencyLayer {
  /** The layer name reported in decision events: `idempotency`. */
  readonly layer: string
  begin(input: IdempotencyInput): Promise<IdempotencyBegin>
}

/**
 * Checks the argument of an adapter's `idempotent(layer)` at construction.
 *
 * @throws TypeError when it is not an idempotency layer
 */
export function checkIdempotencyLayer(layer: IdempotencyLayer): void {
  if (typeof layer?.begin !== 'function') {
    throw new TypeError('idempotent() needs an idempotency layer, such as idempotency({ store })')
  }
}

/**
 * The {@link RequestBody} of what a framework's body parser left (`req.body`): raw bytes for a `Buffer`
 * (`express.raw()`), else the parsed value. An `undefined` value is `unparsed` when `parserRan` says a
 * body parser saw the request (and skipped it for its media type), else `undefined`: no parser ran.
 *
 * @example
 * // body-parser sets `req.body` (to undefined when it skips a body), so `'body' in req` says it ran.
 * const body = parsedBody(req.body, 'body' in req)
 */
export function parsedBody(value: unknown, parserRan = false): RequestBody | undefined {
  if (value === undefined) return parserRan ? unparsed : undefined
  if (value instanceof Uint8Array) return { kind: 'bytes', bytes: value }
  return { kind: 'parsed', value }
}

const unparsed: RequestBody = Object.freeze({ kind: 'unparsed' })

/** The parts of Node's `ServerResponse` that {@link captureNodeResponse} wraps. */
export interface NodeResponseTarget {
  statusCode: number
  getHeaders(): Record<string, string | number | readonly string[] | undefined>
  writeHead(...args: never[]): unknown
  write(...args: never[]): boolean
  end(...args: never[]): unknown
  destroy(error?: Error): unknown
  once(event: 'close', listener: () => void): unknown
}

type Chunk = string | Uint8Array
type Callback = (error?: Error | null) => void
type HeaderMap = Record<string, string | number | readonly string[] | undefined>

// What could still change the head of a response whose end() is held: no-ops until the real end.
const headMutators = ['setHeader', 'setHeaders', 'appendHeader', 'removeHeader', 'flushHeaders'] as const

/**
 * Captures the response a Node handler writes (Express, Koa and Fastify all end in Node's
 * `ServerResponse`) and hands it to `handle` before the last bytes leave: a retry that arrives as soon
 * as the client has its answer finds the response stored, not a 409. Streamed bodies are captured up to
 * `handle.maxBodyBytes` (past that the key is released); the bytes themselves go out unchanged.
 *
 * The handler's `end()` is held while the store write runs. From that call on the response is
 * committed: the status, status message and headers it had are the ones sent, whatever runs meanwhile
 * (an error handler that would write a 500 over a sent answer finds `setHeader`, `writeHead`, `write`
 * and `end` doing nothing, and a changed `statusCode` is put back). An `end()` Node refuses (a chunk
 * that is neither a string nor bytes) releases the key and destroys the response with Node's error.
 *
 * A response whose connection closes before its `end()` (the client went away, or `res.destroy()`)
 * stops the renewal of its claim: if the handler had started answering (`writeHead` or `write`), the key
 * is released and a retry runs the request again; otherwise the handler may still be running, and the
 * key is abandoned (`handle.abandon()`): retries get 409 until its lock lapses, and an answer the handler
 * still gives before then is stored for them.
 *
 * @example
 * if (begun.action === 'proceed' && begun.handle) captureNodeResponse(res, begun.handle)
 */
export function captureNodeResponse(res: NodeResponseTarget, handle: IdempotencyHandle): void {
  const chunks: Uint8Array[] = []
  let size = 0
  let overflow = false
  let headHeaders: HeaderMap | undefined
  const target = res as unknown as Record<string, unknown> & {
    statusCode: number
    statusMessage?: string | undefined
    writeHead: (...args: unknown[]) => unknown
    write: (chunk: Chunk, ...rest: unknown[]) => boolean
    end: (...args: unknown[]) => unknown
  }
  const writeHead = target.writeHead
  const write = target.write
  const end = target.end
  let answering = false
  let ended = false
  res.once('close', () => {
    // After end() the store write settles the handle; before it, nothing else ever will.
    if (ended) return
    if (answering) void handle.release()
    else handle.abandon()
  })

  const keep = (chunk: unknown, encoding: unknown): void => {
    if (overflow || chunk === undefined || chunk === null || typeof chunk === 'function') return
    const bytes =
      typeof chunk === 'string' ? encode(chunk, encoding) : chunk instanceof Uint8Array ? chunk : undefined
    if (bytes === undefined) {
      // Not a body Node sends (its own write() or end() refuses it): nothing to store.
      overflow = true
      chunks.length = 0
      return
    }
    size += bytes.byteLength
    if (size > handle.maxBodyBytes) {
      overflow = true
      chunks.length = 0
      return
    }
    // A caller may reuse its buffer after write(); a string was just encoded into a buffer of our own.
    chunks.push(typeof chunk === 'string' ? bytes : bytes.slice())
  }

  target.writeHead = function capturedWriteHead(this: unknown, ...args: unknown[]) {
    // writeHead(status, [reason], [headers]): Fastify hands its headers here, never to setHeader.
    const last = args[args.length - 1]
    if (args.length > 1 && typeof last === 'object' && last !== null) headHeaders = headerObject(last)
    answering = true
    return writeHead.apply(this, args)
  }
  target.write = function capturedWrite(this: unknown, chunk: Chunk, ...rest: unknown[]) {
    answering = true
    keep(chunk, rest[0])
    return write.call(this, chunk, ...rest)
  }
  target.end = function capturedEnd(this: unknown, ...args: unknown[]) {
    ended = true
    let [chunk, encoding, callback] = args
    if (typeof chunk === 'function') {
      callback = chunk
      chunk = undefined
      encoding = undefined
    } else if (typeof encoding === 'function') {
      callback = encoding
      encoding = undefined
    }
    keep(chunk, encoding)
    const captured: CapturedResponse = {
      status: res.statusCode,
      headers: { ...res.getHeaders(), ...headHeaders },
      body: overflow ? undefined : concat(chunks, size),
    }
    // Until the held end goes out, the response is committed: a second end(), a late write() and any
    // change of the head do nothing (Node would emit a "write after end" error, which no listener of a
    // response handles, or send an error page's head with this body). The status is put back at the end.
    const { statusCode, statusMessage } = target
    const held = holdHead(target)
    target.end = function endedAlready() {
      return res
    }
    target.write = function writtenAfterEnd() {
      return false
    }
    target.writeHead = function headSentAlready() {
      return res
    }
    const finish = () => {
      target.write = write
      target.end = end
      target.writeHead = writeHead
      held.restore()
      target.statusCode = statusCode
      target.statusMessage = statusMessage
      const rest: unknown[] = []
      if (chunk !== undefined) rest.push(chunk)
      if (encoding !== undefined) rest.push(encoding)
      if (callback !== undefined) rest.push(callback as Callback)
      end.apply(res, rest)
    }
    const fail = (error: unknown) => {
      // Node refused the end() (a chunk that is no body): the client gets no answer, the retry runs.
      void handle.release()
      res.destroy(error instanceof Error ? error : new Error(String(error)))
    }
    // The store write comes first: once the client has the answer, a retry must find it stored.
    handle.complete(captured).then(finish, finish).catch(fail)
    return res
  }
}

function encode(chunk: string, encoding: unknown): Uint8Array | undefined {
  try {
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
  } catch {
    // An encoding Node does not know: its own end() throws on it.
    return undefined
  }
}

/** Makes the head-changing methods of `target` no-ops until `restore()`. */
function holdHead(target: Record<string, unknown>): { restore(): void } {
  const saved: [name: string, value: unknown, own: boolean][] = []
  for (const name of headMutators) {
    const value = target[name]
    if (typeof value !== 'function') continue
    saved.push([name, value, Object.hasOwn(target, name)])
    target[name] = function headSentAlready() {
      return target
    }
  }
  return {
    restore() {
      for (const [name, value, own] of saved) {
        if (own) target[name] = value
        else Reflect.deleteProperty(target, name)
      }
    },
  }
}

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

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

function headerObject(value: object): HeaderMap {
  if (!Array.isArray(value)) {
    const out: HeaderMap = {}
    for (const [name, header] of Object.entries(value)) out[name.toLowerCase()] = header
    return out
  }
  // writeHead(status, ['name', 'value', ...]) or [['name', 'value'], ...]
  const out: Record<string, string[]> = {}
  const pairs: [unknown, unknown][] = Array.isArray(value[0])
    ? (value as [unknown, unknown][])
    : Array.from({ length: value.length / 2 }, (_, i) => [value[2 * i], value[2 * i + 1]])
  for (const [name, header] of pairs) {
    const key = String(name).toLowerCase()
    const list = out[key] ?? []
    list.push(String(header))
    out[key] = list
  }
  return out
}
