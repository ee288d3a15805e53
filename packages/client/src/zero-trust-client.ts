import { randomUUID, type webcrypto } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { type Auth, isZeroTrustError, type ZeroTrustErrorCode } from '@zerotrust/core'
import type { Dispatcher } from 'undici'
import type { DpopKeyBinding, TokenRequestOptions, TokenSource } from './client-credentials.js'
import { ClientResponse, ClientResponseHeaders } from './client-response.js'
import { BodyTooLargeError, readBody, readErrorBody } from './lib/body.js'
import { type Challenge, parseChallenges } from './lib/challenges.js'
import { type DpopSigner, dpopSigner } from './lib/dpop-key.js'
import { type ClientEvent, type ClientEventSink, emit, since } from './lib/events.js'
import { type ZeroTrustClientSettings, zeroTrustClientSettings } from './lib/options.js'
import { peerIdentityError } from './lib/peer.js'
import { maxProblemBytes, parseProblem } from './lib/problem.js'
import { type ContextPropagator, propagateInto } from './lib/propagation.js'
import { backoff, keyedMethods, mayRepeat, retryAfterMs, retryableStatus } from './lib/retry.js'
import type { Svid, SvidSource } from './lib/svid.js'
import { type AccessToken, waitFor } from './lib/token-cache.js'
import { type Lease, Transport } from './lib/transport.js'
import { OutboundError, type OutboundTarget, type UpstreamAnswer } from './outbound-error.js'
import type { ClientReason } from './reasons.js'

/** Retries of calls whose outcome is unknown or refused for a while; see {@link ZeroTrustClientOptions.retry}. */
export interface RetryOptions {
  /** Attempts in all, the first included: 3 by default, 1 to 10. */
  readonly attempts?: number
  /** Milliseconds of the first backoff's ceiling, doubled at each retry: 100 by default. */
  readonly baseDelay?: number
  /** Largest backoff ceiling in milliseconds: 5 000 by default. */
  readonly maxDelay?: number
  /**
   * Longest `Retry-After` waited, in milliseconds: 30 000 by default. An answer that asks for a longer
   * wait ends the call (its error carries the `Retry-After`), rather than calling again too early.
   */
  readonly maxRetryAfter?: number
}

/** Options of {@link zeroTrustClient}. */
export interface ZeroTrustClientOptions {
  /** The service called: https (plain http on loopback only), maybe with a path prefix; no query. */
  readonly baseUrl: string
  /**
   * This workload's SVID, presented as the TLS client certificate; its bundle verifies the server. A
   * source that rotates (`svidFiles()` of `@zerotrust/workload`) is followed: new connections use the new
   * SVID, requests in flight finish on the old one.
   */
  readonly tls?: Svid | SvidSource
  /**
   * The SPIFFE ID the server must present (or one of several), checked in the TLS handshake in place of
   * the hostname: another workload behind the right name is refused before the request is sent.
   * Required with `tls`.
   */
  readonly expectPeer?: string | readonly string[]
  /** Where access tokens come from: `clientCredentials(…)`, or any {@link TokenSource}. */
  readonly tokens?: TokenSource
  /**
   * Tokens for a call made on behalf of an inbound request's user (`fetch(path, { onBehalfOf: req.auth })`):
   * minted for this service's `audience` and `scope` by `internalTokens(…)` or `tokenExchange(…)` (RFC 8693)
   * of `@zerotrust/exchange`, so the user's own token is never sent on. Such a call carries that token in place of one from `tokens`.
   */
  readonly onBehalfOf?: OnBehalfOfOptions
  /** A DPoP key (RFC 9449): tokens are bound to it and every request carries a proof signed with it. */
  readonly dpop?: { readonly key: webcrypto.CryptoKeyPair }
  /**
   * Retries: idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE…) and writes with an `Idempotency-Key`
   * are made again, with exponential backoff and full jitter, after a broken connection, a timeout or a
   * 408, 429, 500, 502, 503 or 504; a keyed write still in flight (409) is waited out. `false` makes one
   * attempt only.
   */
  readonly retry?: RetryOptions | false
  /** Milliseconds one attempt may take, the answer's body included: 10 000 by default. */
  readonly timeout?: number
  /** Milliseconds a call may take, its retries and waits included: 30 000 by default. */
  readonly deadline?: number
  /** Largest answer body read, in bytes: 10 MiB by default. */
  readonly maxResponseBytes?: number
  /** Headers sent with every call. */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * `true` (the default): a POST or PATCH without an `idempotencyKey` gets a generated one, the same for
   * all its attempts, and may be retried. The called service must honour the key (as
   * `@zerotrust/idempotency` does); set `false` for one that does not, and such writes are never retried.
   */
  readonly idempotencyKeys?: boolean
  /** Connections kept open to the service: 64 by default. */
  readonly connections?: number
  /** Receives one event per attempt. */
  readonly onEvent?: ClientEventSink
  /**
   * Adds trace context to each attempt: `traceContext()` of `@zerotrust/otel` sends the active span's
   * `traceparent` and `tracestate` (and baggage, as the SDK's propagator is set up). Called once per
   * attempt, so a retry carries the context current when it is sent. It never sets `Authorization`,
   * `DPoP`, `Idempotency-Key`, `Host` or the request's framing, nor replaces a header the call carries;
   * a propagator that throws leaves the attempt without its headers and is reported in the event.
   */
  readonly propagate?: ContextPropagator
}

/**
 * What mints a token for a user: `internalTokens(…)` or `tokenExchange(…)` of `@zerotrust/exchange`, or any
 * object of this shape.
 * Its refusals (a scope the user lacks: 403 `insufficient_scope`) reach the caller as they are.
 */
export interface OnBehalfOfTokens {
  /**
   * A token for `auth`'s user and `request.audience`. `request.signal` aborts when the call's caller
   * aborts or its deadline passes: a minter that waits on anything (an RFC 8693 exchange) should stop
   * then. The call stops waiting either way.
   */
  mint(
    auth: Auth | undefined,
    request: {
      readonly audience: string
      readonly scope?: string | readonly string[]
      readonly signal?: AbortSignal
    },
  ): AccessToken | PromiseLike<AccessToken>
}

/** The client's `onBehalfOf` option: who mints, for which audience and scopes of the called service. */
export interface OnBehalfOfOptions {
  readonly tokens: OnBehalfOfTokens
  /** The called service's audience, such as `api://billing`. */
  readonly audience: string
  /** The scopes its calls need; each must be one the user holds. */
  readonly scope?: string | readonly string[]
}

/** The body of a call: sent as it is at every attempt, so never a stream. */
export type ClientRequestBody = string | Uint8Array | URLSearchParams

/** What one call is: `fetch`'s init, with what makes a call safe to repeat. */
export interface ClientRequestInit {
  /** `GET` by default. */
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>> | Headers | readonly (readonly [string, string])[]
  readonly body?: ClientRequestBody | null
  /**
   * The `Idempotency-Key` of this logical operation, sent with each of its attempts (POST and PATCH); a
   * key is generated when absent (see `idempotencyKeys`); `false` sends none and makes the write
   * unrepeatable.
   */
  readonly idempotencyKey?: string | false
  /**
   * The inbound request's `Auth` (`req.auth`): the call carries a token minted for that user by the
   * client's `onBehalfOf` option, never the user's own token. `undefined` (a route without
   * `authenticate`) is refused by the minter.
   */
  readonly onBehalfOf?: Auth | undefined
  /** Cancels the call: the attempt in flight, a wait for a token and a wait between attempts. */
  readonly signal?: AbortSignal
  /** Milliseconds this call's attempts may take each, in place of the client's `timeout`. */
  readonly timeout?: number
  /** When the call must be over: milliseconds from now, or a date; in place of the client's `deadline`. */
  readonly deadline?: number | Date
}

/** A client of one service; see {@link zeroTrustClient}. */
export interface ZeroTrustClient {
  /**
   * Calls `path` (relative to the base URL, starting with `/`). Resolves with the answer, its body read
   * (bounded); rejects with an {@link OutboundError} for any answer that is not 2xx or 3xx once retries
   * are spent, and for every failure on the way.
   */
  fetch(path: string, init?: ClientRequestInit): Promise<ClientResponse>
  /** Closes the connections once calls in flight are done, and stops following the SVID. */
  close(): Promise<void>
}

/** Longest path (with its query) a call may have. */
const maxPathLength = 8192
// draft-ietf-httpapi-idempotency-key-header-07 §2 and RFC 8941 §3.3.3: a key is an sf-string of
// printable ASCII; keys of zerotrust's idempotency layer are at most 255 characters by default.
const keyPattern = /^[\x20-\x7e]{1,255}$/
// RFC 9449 §8.1: a nonce is 1*NQCHAR.
const noncePattern = /^[\x21\x23-\x5b\x5d-\x7e]{1,1024}$/
const reservedHeaders = new Set([
  'host',
  'dpop',
  'idempotency-key',
  'content-length',
  'transfer-encoding',
  'connection',
])
const empty = new Uint8Array(0)

/**
 * A client of one service that calls it the zero-trust way: over mutual TLS with this workload's SVID,
 * checking that the server is the workload expected (its SPIFFE ID, not its hostname); with an access
 * token for it, DPoP-bound when `dpop` is set; with an `Idempotency-Key` on writes; retrying only what is
 * safe to repeat, within a deadline; and reporting every attempt.
 *
 * @example
 * const billing = zeroTrustClient({
 *   baseUrl: 'https://billing.internal:8443',
 *   tls: svid,
 *   expectPeer: 'spiffe://prod.example.com/ns/billing/sa/billing-api',
 *   tokens: clientCredentials({ issuer, clientId, auth: privateKeyJwt(key), resource: 'api://billing' }),
 *   dpop: { key: dpopKey },
 *   retry: { attempts: 3 },
 * })
 * const res = await billing.fetch('/v1/charges', { method: 'POST', body, idempotencyKey: orderId })
 * @throws TypeError at construction when an option is invalid, naming it
 * @see https://www.rfc-editor.org/rfc/rfc8705
 * @see https://www.rfc-editor.org/rfc/rfc9449
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07
 */
export function zeroTrustClient(options: ZeroTrustClientOptions): ZeroTrustClient {
  const settings = zeroTrustClientSettings(options)
  const transport = new Transport({
    tls: settings.tls,
    ca: settings.tls === undefined ? 'system' : 'bundle',
    expectPeer: settings.expectPeer,
    connections: settings.connections,
    connectTimeout: settings.timeout,
  })
  const signer = settings.dpopKey === undefined ? undefined : dpopSigner(settings.dpopKey)
  const binding = signer === undefined ? undefined : { keyPair: signer.pair, jkt: signer.jkt }
  const tokenRequest = binding === undefined ? {} : { dpop: binding }
  const state: ClientState = { settings, transport, signer, binding, tokenRequest, nonce: undefined }
  return Object.freeze({
    fetch: (path: string, init: ClientRequestInit = {}) => call(state, path, init),
    close: () => transport.close(),
  })
}

interface ClientState {
  readonly settings: ZeroTrustClientSettings
  readonly transport: Transport
  readonly signer: DpopSigner | undefined
  /** The DPoP key handed to the token source, made once. */
  readonly binding: DpopKeyBinding | undefined
  /** What is asked of the token source at each call, made once. */
  readonly tokenRequest: TokenRequestOptions
  /** RFC 9449 §8: the last `DPoP-Nonce` the service sent (one origin per client). */
  nonce: string | undefined
}

/** One call, checked once and sent at each attempt. */
interface Call {
  readonly method: string
  readonly target: OutboundTarget
  /** The request target: path and query. */
  readonly requestPath: string
  /** RFC 9449 §4.2 `htu`: origin and path, without query. */
  readonly htu: string
  readonly headers: Record<string, string>
  readonly body: Uint8Array | string | undefined
  readonly keyed: boolean
  readonly timeout: number
  readonly deadlineAt: number
  readonly signal: AbortSignal | undefined
  /** Whether the call is made for a user (`onBehalfOf` given). */
  readonly delegated: boolean
  readonly user: Auth | undefined
}

/** The answer of one attempt, body read. */
interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer | undefined
}

function prepare(settings: ZeroTrustClientSettings, path: string, init: ClientRequestInit): Call {
  if (
    typeof path !== 'string' ||
    !path.startsWith('/') ||
    path.startsWith('//') ||
    path.length > maxPathLength
  ) {
    throw new TypeError('fetch: "path" must be a path starting with a single "/", at most 8192 characters')
  }
  if (typeof init !== 'object' || init === null) throw new TypeError('fetch: "init" must be an object')
  const delegated = 'onBehalfOf' in init
  if (delegated && settings.onBehalfOf === undefined) {
    throw new TypeError(
      'fetch: "onBehalfOf" option needs the client\'s "onBehalfOf" option: who mints the token',
    )
  }
  const target = targetOf(settings, path)
  const method = init.method === undefined ? 'GET' : methodOf(init.method)
  // Object.assign rather than a spread: headers are added to the copy, which turns a spread clone slow.
  const headers: Record<string, string> = settings.hasHeaders ? Object.assign({}, settings.headers) : {}
  if (init.headers !== undefined) {
    for (const [name, value] of headerEntries(init.headers)) {
      const lower = name.toLowerCase()
      const tokensSet = settings.tokens !== undefined || delegated
      if (reservedHeaders.has(lower) || (lower === 'authorization' && tokensSet)) {
        throw new TypeError(`fetch: "headers" option must not set "${lower}": the client sets it`)
      }
      headers[lower] = value
    }
  }
  let body: Uint8Array | string | undefined
  const given = init.body
  if (given === undefined || given === null) body = undefined
  else if (typeof given === 'string' || given instanceof Uint8Array) body = given
  else if (given instanceof URLSearchParams) {
    body = given.toString()
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8'
  } else throw new TypeError('fetch: "body" option must be a string, a Uint8Array or URLSearchParams')
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new TypeError(`fetch: "body" option must be absent for ${method}`)
  }
  let keyed = false
  if (keyedMethods.has(method) && init.idempotencyKey !== false) {
    const key = init.idempotencyKey ?? (settings.idempotencyKeys ? randomUUID() : undefined)
    if (key !== undefined) {
      if (typeof key !== 'string' || !keyPattern.test(key)) {
        throw new TypeError('fetch: "idempotencyKey" option must be 1 to 255 printable ASCII characters')
      }
      // RFC 8941 §3.3.3: an sf-string, quoted, with `"` and `\` escaped.
      headers['idempotency-key'] = `"${key.replace(/["\\]/g, '\\$&')}"`
      keyed = true
    }
  }
  const timeout = init.timeout ?? settings.timeout
  if (init.timeout !== undefined && (!Number.isSafeInteger(timeout) || timeout < 1)) {
    throw new TypeError('fetch: "timeout" option must be a positive integer number of milliseconds')
  }
  const deadline = init.deadline ?? settings.deadline
  const deadlineAt =
    typeof deadline === 'number'
      ? Date.now() + deadline
      : deadline instanceof Date
        ? deadline.getTime()
        : Number.NaN
  if (
    init.deadline !== undefined &&
    (!Number.isFinite(deadlineAt) || (typeof deadline === 'number' && deadline < 1))
  ) {
    throw new TypeError('fetch: "deadline" option must be a positive number of milliseconds or a valid Date')
  }
  if (init.signal !== undefined && !(init.signal instanceof AbortSignal)) {
    throw new TypeError('fetch: "signal" option must be an AbortSignal')
  }
  return {
    method,
    target: { method, origin: settings.origin, path: target.pathname },
    requestPath: target.requestPath,
    htu: target.htu,
    headers,
    body,
    keyed,
    timeout,
    deadlineAt,
    signal: init.signal,
    delegated,
    user: init.onBehalfOf,
  }
}

// Methods as given and as sent (upper case), checked once each; bounded.
const methods = new Map<string, string>()

function methodOf(given: string): string {
  const known = methods.get(given)
  if (known !== undefined) return known
  const method = typeof given === 'string' ? given.toUpperCase() : ''
  if (!/^[A-Z]{1,32}$/.test(method)) throw new TypeError('fetch: "method" option must be an HTTP method')
  if (methods.size < 64) methods.set(given, method)
  return method
}

interface Target {
  readonly pathname: string
  readonly requestPath: string
  readonly htu: string
}

// Paths already resolved (RFC 3986 §5.2 with the base URL, dot segments removed), as most services call a
// few paths again and again; bounded, and dropped whole when full.
const targets = new WeakMap<ZeroTrustClientSettings, Map<string, Target>>()
const maxTargets = 512

function targetOf(settings: ZeroTrustClientSettings, path: string): Target {
  let known = targets.get(settings)
  if (known === undefined) {
    known = new Map()
    targets.set(settings, known)
  }
  const found = known.get(path)
  if (found !== undefined) return found
  const url = new URL(settings.prefix + path, settings.origin)
  if (url.origin !== settings.origin) throw new TypeError('fetch: "path" must stay on the base URL\'s origin')
  const target = {
    pathname: url.pathname,
    requestPath: url.pathname + url.search,
    htu: settings.origin + url.pathname,
  }
  if (known.size >= maxTargets) known.clear()
  known.set(path, target)
  return target
}

function headerEntries(headers: ClientRequestInit['headers']): Iterable<readonly [string, string]> {
  if (headers === undefined) return []
  if (headers instanceof Headers) return headers.entries()
  if (Array.isArray(headers)) return headers as readonly (readonly [string, string])[]
  if (typeof headers !== 'object' || headers === null) {
    throw new TypeError('fetch: "headers" option must be an object, an array of pairs or Headers')
  }
  return Object.entries(headers as Record<string, string>)
}

/** Why an attempt ended without an answer. */
interface Failure {
  readonly reason: ClientReason
  /** Whether the request may have reached the service (then only repeatable calls are repeated). */
  readonly sent: boolean
  readonly cause: unknown
}

async function call(state: ClientState, path: string, init: ClientRequestInit): Promise<ClientResponse> {
  const { settings, signer } = state
  const request = prepare(settings, path, init)
  let attempts = 0
  let counted = 0
  let nonceRetried = false
  let tokenRetried = false
  for (;;) {
    attempts++
    counted++
    const started = performance.now()
    let token: AccessToken | undefined
    try {
      const stop = checkStop(request, attempts)
      if (stop !== undefined) throw stop
      if (request.delegated) {
        // A user's token is never sent on: a token minted for this service, for that user, in its place.
        token = await mintToken(state, request, attempts)
      } else if (settings.tokens !== undefined) {
        // A fresh cached token without a wait; otherwise the source's answer, within the deadline.
        token = settings.tokens.peek?.(state.tokenRequest) ?? (await getToken(state, request, attempts))
      }
    } catch (error) {
      reportUnsent(state, request, attempts, started, error)
      throw error
    }
    // The call's own headers object (prepare copied it), its credentials set again at each attempt; with a
    // propagator, a copy per attempt, so that each attempt carries the trace context of its own moment.
    let headers = request.headers
    let diagnostics: string[] | undefined
    if (settings.propagate !== undefined) {
      // Not a spread: V8's clone of a spread object turns slow (some µs) once a property is added to it.
      headers = Object.assign({}, request.headers)
      diagnostics = propagateInto(settings.propagate, headers)
    }
    if (token !== undefined) {
      const bound = token.type === 'DPoP' && signer !== undefined
      headers.authorization = authorizationOf(token, bound)
      if (bound) headers.dpop = signer.proof(request.method, request.htu, token.value, state.nonce)
    }
    const outcome = await attempt(state, request, headers)
    if ('reason' in outcome) {
      const failure = outcome
      const stopped = checkStop(request, attempts)
      const error =
        stopped ??
        new OutboundError(
          failureCode(failure.reason),
          `${request.method} ${request.target.origin}${request.target.path} failed: ${failureText(failure.reason)}`,
          { reason: failure.reason, target: request.target, attempts, cause: failure.cause },
        )
      const repeatable =
        stopped === undefined &&
        (failure.reason === 'connection_failed' || failure.reason === 'timeout') &&
        (!failure.sent || mayRepeat(request.method, request.keyed))
      const wait = repeatable ? nextWait(settings, request, counted, undefined) : undefined
      reportAttempt(state, request, attempts, started, error, undefined, wait, diagnostics)
      if (wait === undefined) throw error
      await pause(state, request, attempts, wait)
      continue
    }
    const answer = outcome
    rememberNonce(state, answer)
    if (answer.status < 400) {
      reportAttempt(state, request, attempts, started, undefined, answer.status, undefined, diagnostics)
      return new ClientResponse(
        answer.status,
        new ClientResponseHeaders(answer.headers),
        answer.body ?? empty,
      )
    }
    const upstream = upstreamOf(answer)
    // RFC 9449 §8 and §9: the service wants its nonce in the proof; one more attempt carries it.
    if (
      answer.status === 401 &&
      signer !== undefined &&
      !nonceRetried &&
      hasError(upstream.challenges, 'use_dpop_nonce')
    ) {
      nonceRetried = true
      counted--
      reportAttempt(
        state,
        request,
        attempts,
        started,
        refusal(request, attempts, upstream),
        answer.status,
        0,
        diagnostics,
      )
      continue
    }
    // RFC 6750 §3.1: the token is expired or revoked before its time; a fresh one gets one more attempt.
    if (
      answer.status === 401 &&
      token !== undefined &&
      !request.delegated &&
      !tokenRetried &&
      hasError(upstream.challenges, 'invalid_token')
    ) {
      tokenRetried = true
      counted--
      settings.tokens?.invalidate(token)
      reportAttempt(
        state,
        request,
        attempts,
        started,
        refusal(request, attempts, upstream),
        answer.status,
        0,
        diagnostics,
      )
      continue
    }
    const error = refusal(request, attempts, upstream)
    let wait: number | undefined
    if (
      inFlight(request, answer.status, upstream) ||
      (retryableStatus(answer.status) && mayRepeat(request.method, request.keyed))
    ) {
      wait = nextWait(settings, request, counted, upstream.retryAfter === undefined ? undefined : answer)
    }
    reportAttempt(state, request, attempts, started, error, answer.status, wait, diagnostics)
    if (wait === undefined) throw error
    await pause(state, request, attempts, wait)
  }
}

// The Authorization value of each token, made once per scheme: a token is sent on many calls.
const authorizations = {
  DPoP: new WeakMap<AccessToken, string>(),
  Bearer: new WeakMap<AccessToken, string>(),
}

function authorizationOf(token: AccessToken, bound: boolean): string {
  const scheme = bound ? 'DPoP' : 'Bearer'
  let value = authorizations[scheme].get(token)
  if (value === undefined) {
    value = `${scheme} ${token.value}`
    authorizations[scheme].set(token, value)
  }
  return value
}

/** draft-ietf-httpapi-idempotency-key-header-07 §2.6: the same key is still being processed. */
function inFlight(request: Call, status: number, upstream: UpstreamAnswer): boolean {
  if (status !== 409 || !request.keyed) return false
  return upstream.retryAfter !== undefined || upstream.problem?.extensions.code === 'idempotency_conflict'
}

function hasError(challenges: readonly Challenge[], error: string): boolean {
  return challenges.some((challenge) => challenge.params.error === error)
}

/** The wait before the next attempt, or `undefined` when there is none to make. */
function nextWait(
  settings: ZeroTrustClientSettings,
  request: Call,
  counted: number,
  answer: Answer | undefined,
): number | undefined {
  if (counted >= settings.retry.attempts) return undefined
  let wait: number
  if (answer !== undefined) {
    const asked = retryAfterMs(headerString(answer.headers['retry-after']))
    if (asked === undefined) wait = backoff(counted, settings.retry.baseDelay, settings.retry.maxDelay)
    else if (asked > settings.retry.maxRetryAfter) return undefined
    else wait = asked
  } else {
    wait = backoff(counted, settings.retry.baseDelay, settings.retry.maxDelay)
  }
  if (Date.now() + wait >= request.deadlineAt) return undefined
  return wait
}

/** The error a call ends with now, if its caller aborted it or its deadline passed. */
function checkStop(request: Call, attempts: number): OutboundError | undefined {
  if (request.signal?.aborted) return stopError(request, attempts, 'aborted', request.signal.reason)
  if (Date.now() >= request.deadlineAt) return stopError(request, attempts, 'deadline', undefined)
  return undefined
}

function stopError(
  request: Call,
  attempts: number,
  reason: 'aborted' | 'deadline',
  cause: unknown,
): OutboundError {
  const where = `${request.method} ${request.target.origin}${request.target.path}`
  return new OutboundError(
    reason === 'aborted' ? 'internal_error' : 'dependency_unavailable',
    reason === 'aborted' ? `${where} was aborted by its caller` : `${where} passed its deadline`,
    { reason, target: request.target, attempts, ...(cause === undefined ? {} : { cause }) },
  )
}

async function getToken(state: ClientState, request: Call, attempts: number): Promise<AccessToken> {
  const { settings, binding } = state
  // The caller's signal stops the wait; the deadline is a timer raced against it. No AbortController of
  // our own: one costs more than a cached token's whole lookup.
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(stopError(request, attempts, 'deadline', undefined)),
      Math.max(0, request.deadlineAt - Date.now()),
    )
  })
  try {
    const pending = (settings.tokens as TokenSource).token({
      ...(binding === undefined ? {} : { dpop: binding }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    })
    return await Promise.race([pending, deadline])
  } catch (error) {
    const stopped = checkStop(request, attempts)
    if (stopped !== undefined) throw stopped
    if (error instanceof OutboundError) throw error
    throw new OutboundError('dependency_unavailable', 'the access token could not be obtained', {
      reason: 'token_unavailable',
      target: request.target,
      attempts,
      cause: error,
    })
  } finally {
    clearTimeout(timer)
  }
}

// Tokens a minter handed out that were checked already: a minter hands the same one out again.
const mintedTokens = new WeakSet<AccessToken>()
// RFC 6750 §2.1: b64token; bounded so that a minter's mistake never becomes a huge header.
const tokenPattern = /^[A-Za-z0-9\-._~+/]+=*$/
const maxTokenLength = 16_384

function abortMint(controller: AbortController): void {
  controller.abort()
}

/**
 * The token minted for the call's user (`onBehalfOf`), within the call's deadline and its caller's
 * signal: the minter is handed a signal that aborts at either, and the call stops waiting for it then
 * whether or not the minter heeds it. A minter's `ZeroTrustError` (a refusal: a scope the user lacks)
 * reaches the caller as it is; any other failure, or something that is not a token, is `mint_failed`.
 */
async function mintToken(state: ClientState, request: Call, attempts: number): Promise<AccessToken> {
  const delegation = state.settings.onBehalfOf as OnBehalfOfOptions
  const controller = new AbortController()
  const timer = setTimeout(abortMint, Math.max(0, request.deadlineAt - Date.now()), controller)
  const caller = request.signal
  let onAbort: (() => void) | undefined
  try {
    const minted = delegation.tokens.mint(
      request.user,
      delegation.scope === undefined
        ? { audience: delegation.audience, signal: controller.signal }
        : { audience: delegation.audience, scope: delegation.scope, signal: controller.signal },
    )
    let token: AccessToken
    if (isThenable(minted)) {
      // Only a minter that waits can be stopped by the caller; the listener is added in the same turn
      // as the minter was called, so no abort of the caller's goes unseen.
      if (caller !== undefined) {
        onAbort = () => controller.abort()
        if (caller.aborted) onAbort()
        else caller.addEventListener('abort', onAbort, { once: true })
      }
      token = await waitFor(Promise.resolve(minted), controller.signal)
    } else token = minted
    if (!mintedTokens.has(token)) {
      if (!isAccessToken(token)) throw new TypeError('the minter returned something that is not a token')
      mintedTokens.add(token)
    }
    return token
  } catch (error) {
    if (caller?.aborted) throw stopError(request, attempts, 'aborted', caller.reason)
    if (controller.signal.aborted || Date.now() >= request.deadlineAt) {
      throw stopError(request, attempts, 'deadline', undefined)
    }
    if (isZeroTrustError(error)) throw error
    throw new OutboundError('internal_error', "the token for the call's user could not be minted", {
      reason: 'mint_failed',
      target: request.target,
      attempts,
      cause: error,
    })
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) caller?.removeEventListener('abort', onAbort)
  }
}

function isThenable(value: unknown): value is PromiseLike<AccessToken> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function'
}

function isAccessToken(value: unknown): value is AccessToken {
  const token = value as AccessToken | undefined
  return (
    typeof token === 'object' &&
    token !== null &&
    (token.type === 'Bearer' || token.type === 'DPoP') &&
    typeof token.value === 'string' &&
    token.value.length <= maxTokenLength &&
    tokenPattern.test(token.value)
  )
}

/** The signal of one attempt: aborted by its timer or by the caller's signal. */
class AttemptSignal extends EventEmitter {
  timedOut = false
}

function timeUp(signal: AttemptSignal): void {
  signal.timedOut = true
  signal.emit('abort')
}

/** One attempt: the request sent and its answer read, or why not. */
async function attempt(
  state: ClientState,
  request: Call,
  headers: Record<string, string>,
): Promise<Answer | Failure> {
  const { transport, settings } = state
  const remaining = request.deadlineAt - Date.now()
  const byDeadline = remaining < request.timeout
  // undici takes an emitter as the request's signal: far cheaper than an AbortController per attempt.
  const abort = new AttemptSignal()
  const timer = setTimeout(timeUp, Math.max(1, byDeadline ? remaining : request.timeout), abort)
  const onAbort = request.signal === undefined ? undefined : () => abort.emit('abort')
  if (onAbort !== undefined) request.signal?.addEventListener('abort', onAbort, { once: true })
  const lease: Lease = transport.acquire()
  let sent = false
  try {
    const options: Dispatcher.RequestOptions = {
      origin: settings.origin,
      path: request.requestPath,
      method: request.method as Dispatcher.HttpMethod,
      headers,
      signal: abort,
    }
    if (request.body !== undefined) options.body = request.body
    const response = await lease.dispatcher.request(options)
    sent = true
    const { statusCode, headers: answerHeaders, body } = response
    const length = answerHeaders['content-length']
    let bytes: Buffer | undefined
    if (statusCode < 400) {
      bytes = await readBody(body, settings.maxResponseBytes, length)
    } else {
      bytes = await readErrorBody(body, Math.min(settings.maxResponseBytes, maxProblemBytes), length)
    }
    return { status: statusCode, headers: answerHeaders, body: bytes }
  } catch (error) {
    return failureOf(error, sent, abort.timedOut && !request.signal?.aborted, byDeadline)
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) request.signal?.removeEventListener('abort', onAbort)
    transport.release(lease)
  }
}

// Errors raised before a connection carried the request: nothing reached the service.
const notSentCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
])
// TLS verification of the server's certificate chain (Node's and OpenSSL's codes).
const certificateCode = /^(?:ERR_TLS_CERT|CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_SSL_CERTIFICATE)/

function failureOf(error: unknown, sent: boolean, timedOut: boolean, byDeadline: boolean): Failure {
  if (error instanceof BodyTooLargeError) return { reason: 'response_too_large', sent: true, cause: error }
  const peer = peerIdentityError(error)
  if (peer !== undefined) return { reason: peer.reason, sent: false, cause: peer }
  if (timedOut) return { reason: byDeadline ? 'deadline' : 'timeout', sent: true, cause: error }
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && certificateCode.test(code)) {
    return { reason: 'peer_unverified', sent: false, cause: error }
  }
  return {
    reason: 'connection_failed',
    sent: sent || !(typeof code === 'string' && notSentCodes.has(code)),
    cause: error,
  }
}

function failureCode(reason: ClientReason): ZeroTrustErrorCode {
  return reason === 'aborted' ? 'internal_error' : 'dependency_unavailable'
}

function failureText(reason: ClientReason): string {
  switch (reason) {
    case 'peer_mismatch':
      return 'the server presented another SPIFFE ID than expected'
    case 'peer_unverified':
      return 'the server certificate was not verified'
    case 'response_too_large':
      return 'the response body is larger than allowed'
    case 'timeout':
      return 'the attempt timed out'
    case 'deadline':
      return 'the deadline passed'
    default:
      return 'the connection failed'
  }
}

function upstreamOf(answer: Answer): UpstreamAnswer {
  const authenticate = headerString(answer.headers['www-authenticate'])
  const asked = retryAfterMs(headerString(answer.headers['retry-after']))
  return {
    status: answer.status,
    problem:
      answer.body === undefined
        ? undefined
        : parseProblem(headerString(answer.headers['content-type']), answer.body),
    challenges: parseChallenges(authenticate),
    retryAfter: asked === undefined ? undefined : Math.ceil(asked / 1000),
  }
}

function refusal(request: Call, attempts: number, upstream: UpstreamAnswer): OutboundError {
  const unavailable = upstream.status >= 500 || upstream.status === 429 || upstream.status === 408
  const where = `${request.method} ${request.target.origin}${request.target.path}`
  return new OutboundError(
    unavailable ? 'dependency_unavailable' : 'internal_error',
    `${where} answered ${upstream.status}`,
    {
      reason: unavailable ? 'upstream_unavailable' : 'upstream_refused',
      target: request.target,
      attempts,
      upstream,
      ...(unavailable && upstream.retryAfter !== undefined ? { retryAfter: upstream.retryAfter } : {}),
    },
  )
}

function rememberNonce(state: ClientState, answer: Answer): void {
  if (state.signer === undefined) return
  const nonce = headerString(answer.headers['dpop-nonce'])
  if (nonce !== undefined && noncePattern.test(nonce)) state.nonce = nonce
}

function headerString(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  return typeof value === 'string' ? value : value.join(', ')
}

function sleep(ms: number, request: Call, attempts: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const signal = request.signal
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(stopError(request, attempts, 'aborted', signal?.reason))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** The wait before attempt `attempts + 1`; an abort during it is reported as that attempt's event. */
async function pause(state: ClientState, request: Call, attempts: number, ms: number): Promise<void> {
  const started = performance.now()
  try {
    await sleep(ms, request, attempts)
  } catch (error) {
    reportUnsent(state, request, attempts + 1, started, error)
    throw error
  }
}

/**
 * An attempt that ends before its request is sent (the call was aborted or past its deadline, no token
 * could be had, the minter refused or failed) is a decision too: one event, without a status. A minter's
 * own refusal (a `ZeroTrustError` such as 403 `insufficient_scope`) keeps its code, is a `deny`, and
 * names its reason in `diagnostics` (`minter_refused:<reason>`), since `reason` holds client reasons only.
 */
function reportUnsent(
  state: ClientState,
  request: Call,
  attempt: number,
  started: number,
  error: unknown,
): void {
  const sink = state.settings.onEvent
  if (sink === undefined) return
  const outbound = error instanceof OutboundError
  const known = isZeroTrustError(error)
  const event = {
    layer: 'client',
    outcome: known && !outbound && error.status < 500 ? 'deny' : 'error',
    code: known ? error.code : 'internal_error',
  } as MutableEvent
  if (outbound) event.reason = error.reason
  const refused = known && !outbound && error.reason !== undefined && /^[a-z0-9_-]{1,64}$/.test(error.reason)
  emitAttempt(
    sink,
    state,
    request,
    attempt,
    started,
    event,
    refused ? [`minter_refused:${error.reason}`] : undefined,
  )
}

function reportAttempt(
  state: ClientState,
  request: Call,
  attempt: number,
  started: number,
  error: OutboundError | undefined,
  status: number | undefined,
  retryInMs: number | undefined,
  diagnostics: readonly string[] | undefined,
): void {
  const sink = state.settings.onEvent
  if (sink === undefined) return
  const outcome =
    error === undefined
      ? 'allow'
      : status !== undefined && status < 500 && status !== 429 && status !== 408
        ? 'deny'
        : 'error'
  // Members in the order of DecisionEvent, absent ones left out rather than undefined (JSON logs).
  const event = { layer: 'client', outcome, code: error === undefined ? 'ok' : error.code } as MutableEvent
  if (error !== undefined) event.reason = error.reason
  if (status !== undefined) event.status = status
  if (retryInMs !== undefined) event.retryInMs = retryInMs
  emitAttempt(sink, state, request, attempt, started, event, diagnostics)
}

type MutableEvent = { -readonly [K in keyof ClientEvent]: ClientEvent[K] }

/** Adds what every attempt's event names after its outcome (the call, the workloads, the time) and emits it. */
function emitAttempt(
  sink: ClientEventSink,
  state: ClientState,
  request: Call,
  attempt: number,
  started: number,
  event: MutableEvent,
  diagnostics: readonly string[] | undefined,
): void {
  event.method = request.method
  event.origin = request.target.origin
  event.path = request.target.path
  event.attempt = attempt
  const workload = state.transport.spiffeId
  if (workload !== undefined) event.workload = workload
  if (state.settings.peer !== undefined) event.peer = state.settings.peer
  if (diagnostics !== undefined) event.diagnostics = diagnostics
  event.durationMs = since(started)
  emit(sink, event)
}
