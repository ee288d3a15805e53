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
    throw new TypeError('idempotent: needs an idempotency layer, such as idempotency({ store })')
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
