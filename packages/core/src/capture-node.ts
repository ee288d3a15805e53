import type { CapturedResponse, IdempotencyHandle } from './idempotency.js'
import { concat } from './lib/concat.js'

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
      // The contract says release() never rejects; a layer of another make that breaks it must not end the
      // process with an unhandled rejection.
      handle.release().catch(() => {})
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
