import { concat } from './lib/concat.js'

/**
 * Why a bounded fetch failed: a stable code that each caller translates into its own `reason`.
 * - `ERR_FETCH_NETWORK`: the request failed, or the body stream broke off.
 * - `ERR_FETCH_TIMEOUT`: the `timeout` passed (the body counts).
 * - `ERR_FETCH_ABORTED`: the caller's `signal` aborted.
 * - `ERR_FETCH_TOO_LARGE`: the declared or the counted body size is over `maxBytes`.
 * - `ERR_FETCH_STATUS`: {@link fetchJson} got a status other than 200 (`status` says which).
 * - `ERR_FETCH_NOT_JSON`: {@link fetchJson} got a body that is not a UTF-8 JSON object.
 */
export type BoundedFetchErrorCode =
  | 'ERR_FETCH_NETWORK'
  | 'ERR_FETCH_TIMEOUT'
  | 'ERR_FETCH_ABORTED'
  | 'ERR_FETCH_TOO_LARGE'
  | 'ERR_FETCH_STATUS'
  | 'ERR_FETCH_NOT_JSON'

const brand = Symbol.for('zerotrust.bounded-fetch-error')

/**
 * A failure of {@link fetchBounded}, {@link fetchJson} or {@link readBoundedBody}. Its message is
 * ours; what the other side sent is never in it (the underlying error, if any, is the `cause`).
 * Recognize it with {@link isBoundedFetchError}, which checks a brand rather than the class.
 */
export class BoundedFetchError extends Error {
  declare readonly [brand]: true
  override readonly name = 'BoundedFetchError'
  readonly code: BoundedFetchErrorCode
  /** The HTTP status, for `ERR_FETCH_STATUS`. */
  readonly status: number | undefined

  constructor(
    code: BoundedFetchErrorCode,
    message: string,
    options: { readonly cause?: unknown; readonly status?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = options.status
    Object.defineProperty(this, brand, { value: true })
  }
}

/**
 * Whether a value is a {@link BoundedFetchError}, also one from another copy of this package.
 *
 * @example
 * if (isBoundedFetchError(error) && error.code === 'ERR_FETCH_TOO_LARGE') reason = 'jwks_too_large'
 */
export function isBoundedFetchError(value: unknown): value is BoundedFetchError {
  return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true
}

/** Options of {@link fetchBounded} and {@link fetchJson}. */
export interface BoundedFetchOptions {
  /** Most bytes of body read; past them the body is cancelled and the fetch fails. */
  readonly maxBytes: number
  /**
   * Milliseconds for the whole exchange, body included; none by default. It holds even when a custom
   * `fetch` ignores the abort signal.
   */
  readonly timeout?: number
  /** The fetch implementation; the global `fetch` by default. */
  readonly fetch?: typeof globalThis.fetch
  /** The caller's own signal; its abort ends the exchange as `ERR_FETCH_ABORTED`. */
  readonly signal?: AbortSignal
  readonly method?: string
  readonly headers?: RequestInit['headers']
  readonly body?: RequestInit['body']
  /** `error` by default: a redirect could lead off the endpoint the caller checked. */
  readonly redirect?: RequestInit['redirect']
}

/** The answer of {@link fetchBounded}, its body read whole (and at most `maxBytes` of it). */
export interface BoundedResponse {
  readonly status: number
  readonly statusText: string
  readonly headers: Headers
  readonly body: Uint8Array
}

/**
 * Fetches a URL and reads its body, at most `maxBytes` of it, within `timeout`. A `content-length` over
 * the limit is refused before reading; otherwise bytes are counted as they stream in, and the body is
 * cancelled (the connection dropped) as soon as the count passes the limit, so a huge or endless answer
 * costs at most the limit in memory. Every failure is a {@link BoundedFetchError}.
 *
 * @example
 * const { status, body } = await fetchBounded(url, { maxBytes: 512 * 1024, timeout: 5000 })
 * @throws BoundedFetchError on a network failure, a timeout, an abort or a body over the limit
 */
export async function fetchBounded(
  url: string | URL,
  options: BoundedFetchOptions,
): Promise<BoundedResponse> {
  const own = new AbortController()
  const signal = options.signal === undefined ? own.signal : AbortSignal.any([own.signal, options.signal])
  let timer: ReturnType<typeof setTimeout> | undefined
  if (options.timeout !== undefined) {
    timer = setTimeout(
      () => own.abort(new BoundedFetchError('ERR_FETCH_TIMEOUT', 'the request timed out')),
      options.timeout,
    )
  }
  // Ends the wait even when a custom fetch, or its body stream, ignores the signal.
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([exchange(url, options, signal), aborted])
  } catch (error) {
    throw classify(error, own.signal, options.signal)
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort as () => void)
  }
}

/**
 * {@link fetchBounded}, then requires status 200 and a body that is a UTF-8 JSON object. The size limit
 * also bounds the cost of parsing.
 *
 * @example
 * const jwks = await fetchJson(jwksUri, { maxBytes: 512 * 1024, timeout: 5000, headers: { accept: 'application/json' } })
 * @throws BoundedFetchError as {@link fetchBounded}, and `ERR_FETCH_STATUS` or `ERR_FETCH_NOT_JSON`
 */
export async function fetchJson(
  url: string | URL,
  options: BoundedFetchOptions,
): Promise<Record<string, unknown>> {
  const response = await fetchBounded(url, options)
  if (response.status !== 200) {
    throw new BoundedFetchError('ERR_FETCH_STATUS', `unexpected HTTP status ${response.status}`, {
      status: response.status,
    })
  }
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(response.body))
  } catch (cause) {
    throw new BoundedFetchError('ERR_FETCH_NOT_JSON', 'the response is not JSON', { cause })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BoundedFetchError('ERR_FETCH_NOT_JSON', 'the response is not a JSON object')
  }
  return value as Record<string, unknown>
}

/**
 * Reads a response's body, at most `maxBytes` of it: a `content-length` over the limit is refused
 * before reading, and otherwise the bytes are counted as they arrive (a `content-length` can lie) and
 * the body is cancelled once the count passes the limit. For callers that make the request themselves.
 *
 * @example
 * const text = new TextDecoder().decode(await readBoundedBody(response, 1024 * 1024))
 * @throws BoundedFetchError `ERR_FETCH_TOO_LARGE` over the limit, `ERR_FETCH_NETWORK` when the stream
 *   breaks off (or `signal` aborts)
 */
export async function readBoundedBody(
  response: Response,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {})
    throw tooLarge()
  }
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  // A stream that ignores the signal is cancelled by it, so a pending read ends.
  const cancel = () => {
    reader.cancel(signal?.reason).catch(() => {})
  }
  signal?.addEventListener('abort', cancel, { once: true })
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      let step: Awaited<ReturnType<typeof reader.read>>
      try {
        if (signal?.aborted) throw signal.reason
        step = await reader.read()
      } catch (cause) {
        await reader.cancel().catch(() => {})
        throw new BoundedFetchError('ERR_FETCH_NETWORK', 'the response body could not be read', { cause })
      }
      if (step.done) {
        // A read that the signal's cancel ended looks done: the body is cut short, not complete.
        if (signal?.aborted)
          throw new BoundedFetchError('ERR_FETCH_NETWORK', 'the response body was cut short')
        break
      }
      size += step.value.byteLength
      if (size > maxBytes) {
        await reader.cancel().catch(() => {})
        throw tooLarge()
      }
      chunks.push(step.value)
    }
  } finally {
    signal?.removeEventListener('abort', cancel)
  }
  return concat(chunks, size)
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

async function exchange(
  url: string | URL,
  options: BoundedFetchOptions,
  signal: AbortSignal,
): Promise<BoundedResponse> {
  const fetch = options.fetch ?? globalThis.fetch
  let response: Response
  try {
    response = await fetch(url, {
      ...(options.method === undefined ? {} : { method: options.method }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.body === undefined ? {} : { body: options.body }),
      redirect: options.redirect ?? 'error',
      signal,
    })
  } catch (cause) {
    throw new BoundedFetchError('ERR_FETCH_NETWORK', 'the request failed', { cause })
  }
  const body = await readBoundedBody(response, options.maxBytes, signal)
  return { status: response.status, statusText: response.statusText, headers: response.headers, body }
}

function classify(error: unknown, own: AbortSignal, caller: AbortSignal | undefined): BoundedFetchError {
  if (isBoundedFetchError(error) && error.code === 'ERR_FETCH_TOO_LARGE') return error
  if (own.aborted) return own.reason as BoundedFetchError
  if (caller?.aborted) {
    return new BoundedFetchError('ERR_FETCH_ABORTED', 'the request was aborted', { cause: caller.reason })
  }
  if (isBoundedFetchError(error)) return error
  return new BoundedFetchError('ERR_FETCH_NETWORK', 'the request failed', { cause: error })
}

function tooLarge(): BoundedFetchError {
  return new BoundedFetchError('ERR_FETCH_TOO_LARGE', 'the response is too large')
}
