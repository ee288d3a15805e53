import type { Auth, Authenticator, Authorizer, Decision, DecisionDetails } from './auth.js'
import { toZeroTrustError, type ZeroTrustError, type ZeroTrustErrorCode } from './errors.js'
import { type FailureCause, failureCause } from './failure-cause.js'
import { isFieldValue, isToken } from './lib/header-params.js'
import { isThenable } from './lib/thenable.js'
import type { RequestLike } from './request.js'

/**
 * One audit record: what a layer decided about one request. A plain JSON object (pino and friends log
 * it as is) that never holds a token, a proof, a secret or claims beyond identifiers.
 *
 * @example
 * { layer: 'jwt', outcome: 'deny', code: 'invalid_token', reason: 'expired', status: 401, method: 'GET',
 *   path: '/orders/7', durationMs: 0.41 }
 */
export interface DecisionEvent {
  /** Which layer decided: `jwt`, `scopes`, `cedar`… */
  readonly layer: string
  /** `allow`; `deny` for a client's fault (4xx); `error` when we failed (5xx). */
  readonly outcome: 'allow' | 'deny' | 'error'
  /** `ok` when allowed, else the stable error code. */
  readonly code: 'ok' | ZeroTrustErrorCode
  /** The finer stable sub-code, such as `expired`. */
  readonly reason?: string
  /** The HTTP status the error maps to, when denied or failed. */
  readonly status?: number
  /**
   * Why a dependency failed, on a `dependency_unavailable` (503) event whose error's cause chain says:
   * `dns`, `refused`, `tls`, `timeout`, `http_status`… (see {@link FailureCause}). Derived from error
   * codes, never from message text.
   */
  readonly cause?: FailureCause
  readonly subject?: string
  readonly clientId?: string
  readonly issuer?: string
  /** The SPIFFE ID of the workload that sent the request, where one was proven. */
  readonly workload?: string
  /**
   * Sidecar identity headers (`x-forwarded-client-cert`, `l5d-client-id`) the request carried from a
   * peer not trusted to send them: they were ignored. Their presence is worth an alert, not their value,
   * which is never reported.
   */
  readonly ignoredHeaders?: readonly string[]
  readonly method: string
  /** The request path, without the query (which could carry secrets). */
  readonly path: string
  readonly requestId?: string
  /** The ids of the policies that determined an authorizer's answer, such as Cedar policy ids. */
  readonly policies?: readonly string[]
  /** Evaluation problems an authorizer reported (never tokens, secrets or request data). */
  readonly diagnostics?: readonly string[]
  /** Time the layer took, in milliseconds. */
  readonly durationMs: number
}

/** Receives every decision; must not throw (a throwing sink is reported as a process warning). */
export type DecisionSink = (event: DecisionEvent) => void

/**
 * Runs an authenticator on a request and reports the decision. Answers with the `Auth` itself when the
 * authenticator answered without waiting (a cache hit), else with a promise of it, so an adapter calls
 * the next middleware without a microtask on the hot path (`answer instanceof Promise` tells which).
 * A refusal is always a rejected promise, never a throw, carrying a `ZeroTrustError` (unknown errors
 * become `internal_error`). Adapters call this, so they report alike.
 *
 * @example
 * const answer = runAuthentication(authenticator, view, onDecision)
 * if (answer instanceof Promise) answer.then(proceed, refuse)
 * else proceed(answer)
 */
export function runAuthentication(
  authenticator: Authenticator,
  req: RequestLike,
  onDecision?: DecisionSink,
): Auth | Promise<Auth> {
  const started = onDecision ? performance.now() : 0
  let answer: Auth | PromiseLike<Auth>
  try {
    answer = authenticator.authenticate(req)
  } catch (thrown) {
    return Promise.reject(refused(authenticator, req, onDecision, started, thrown))
  }
  if (!isThenable(answer)) return authenticated(authenticator, req, onDecision, started, answer)
  return Promise.resolve(answer).then(
    (auth) => authenticated(authenticator, req, onDecision, started, auth),
    (thrown: unknown) => {
      throw refused(authenticator, req, onDecision, started, thrown)
    },
  )
}

function authenticated(
  authenticator: Authenticator,
  req: RequestLike,
  onDecision: DecisionSink | undefined,
  started: number,
  auth: Auth,
): Auth {
  if (onDecision) reportDecision(onDecision, authenticator.layer, req, started, auth, undefined)
  return auth
}

function refused(
  authenticator: Authenticator,
  req: RequestLike,
  onDecision: DecisionSink | undefined,
  started: number,
  thrown: unknown,
): ZeroTrustError {
  const error = toZeroTrustError(thrown)
  if (onDecision) reportDecision(onDecision, authenticator.layer, req, started, undefined, error)
  return error
}

/** The headers an allowed decision asks the adapter to add to the response, or `undefined`. */
export type AllowedHeaders = Readonly<Record<string, string>> | undefined

/**
 * Runs an authorizer for an authenticated request and reports the decision. When allowed, answers with
 * the headers the decision asks the adapter to add to the response (`responseHeaders`, entries that
 * could not be sent as they are left out) or `undefined`: itself when the authorizer decided without
 * waiting, else a promise of it (`answer instanceof Promise` tells which). A denial is always a rejected
 * promise carrying its `ZeroTrustError`. Without `auth` (authorization mounted before authentication)
 * it fails closed with `internal_error`.
 */
export function runAuthorization(
  authorizer: Authorizer,
  req: RequestLike,
  auth: Auth | undefined,
  onDecision?: DecisionSink,
): AllowedHeaders | Promise<AllowedHeaders> {
  const started = onDecision ? performance.now() : 0
  let answer: Decision | PromiseLike<Decision>
  try {
    if (auth === undefined) {
      throw new Error('authorization ran before authentication: mount authenticate() first')
    }
    answer = authorizer.authorize(req, auth)
  } catch (thrown) {
    return Promise.reject(denied(authorizer, req, auth, onDecision, started, toZeroTrustError(thrown)))
  }
  if (!isThenable(answer)) {
    try {
      return decided(authorizer, req, auth, onDecision, started, answer)
    } catch (error) {
      // A denial from the synchronous form rejects too, as the promise form's does.
      return Promise.reject(error)
    }
  }
  return Promise.resolve(answer).then(
    (decision) => decided(authorizer, req, auth, onDecision, started, decision),
    (thrown: unknown) => {
      throw denied(authorizer, req, auth, onDecision, started, toZeroTrustError(thrown))
    },
  )
}

// An allowed decision's headers. A denial, or an answer that is no decision at all (fail closed), is
// reported and thrown as its `ZeroTrustError`.
function decided(
  authorizer: Authorizer,
  req: RequestLike,
  auth: Auth,
  onDecision: DecisionSink | undefined,
  started: number,
  decision: Decision,
): AllowedHeaders {
  if (decision?.allowed === true) {
    if (onDecision) reportDecision(onDecision, authorizer.layer, req, started, auth, undefined, decision)
    return decision.responseHeaders === undefined ? undefined : sendable(decision.responseHeaders)
  }
  const cause =
    decision?.allowed === false
      ? decision.error
      : new Error(`the ${authorizer.layer} authorizer answered no decision`)
  throw denied(authorizer, req, auth, onDecision, started, toZeroTrustError(cause), decision ?? undefined)
}

function denied(
  authorizer: Authorizer,
  req: RequestLike,
  auth: Auth | undefined,
  onDecision: DecisionSink | undefined,
  started: number,
  error: ZeroTrustError,
  details?: DecisionDetails,
): ZeroTrustError {
  if (onDecision) reportDecision(onDecision, authorizer.layer, req, started, auth, error, details)
  return error
}

/**
 * `headers` as an adapter can set them: itself when every entry is a header name with a printable value,
 * else without the others (a CR or LF would split the response, a bad name makes the framework throw).
 */
function sendable(headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  // A loop rather than entries and closures: this runs on every response of a layer that sets headers.
  for (const name of Object.keys(headers)) {
    if (!sendableName(name) || !isFieldValue(headers[name])) {
      const valid = ([key, value]: [string, unknown]) => sendableName(key) && isFieldValue(value)
      return Object.fromEntries(Object.entries(headers).filter(valid))
    }
  }
  return headers
}

// Layers set a few header names again and again (`RateLimit`, `DPoP-Nonce`): each is checked once.
const sendableNames = new Set<string>()

function sendableName(name: string): boolean {
  if (sendableNames.has(name)) return true
  if (!isToken(name)) return false
  if (sendableNames.size < 64) sendableNames.add(name)
  return true
}

/** What a decision event names of the request. */
export type ReportedRequest = Pick<RequestLike, 'method' | 'path' | 'requestId'>

/** What a decision event names of the caller. */
export type ReportedCaller = Pick<Auth, 'subject' | 'clientId' | 'issuer' | 'workload'>

/** What a decision event may carry beside the error: policy details, or the reason of an allow. */
export interface ReportedDetails extends DecisionDetails {
  /** The reason of an allowed decision (`claimed`, `replayed`); a denial's reason is its error's. */
  readonly reason?: string
  /**
   * The status the client received, when it is not the error's: a failure reported after the answer
   * went out (the idempotency store failing to keep a 201) carries the 201, not the 503 of its code.
   */
  readonly status?: number
}

/**
 * Reports one decision to `sink` as a {@link DecisionEvent}: `allow`, `deny` for a 4xx, `error` for a
 * 5xx, with identifiers only. A sink that throws, or an async one that rejects, is reported as a process
 * warning; the decision stands.
 * `runAuthentication` and `runAuthorization` report through it; so do layers that decide elsewhere in the
 * request (idempotency).
 *
 * @example
 * reportDecision(onDecision, 'idempotency', req, started, auth, undefined, { reason: 'replayed' })
 */
export function reportDecision(
  sink: DecisionSink,
  layer: string,
  req: ReportedRequest,
  started: number,
  auth: ReportedCaller | undefined,
  error: ZeroTrustError | undefined,
  details?: ReportedDetails,
): void {
  const event: Record<string, unknown> = {
    layer,
    outcome: error === undefined ? 'allow' : error.status >= 500 ? 'error' : 'deny',
    code: error === undefined ? 'ok' : error.code,
  }
  const reason = error === undefined ? details?.reason : error.reason
  if (reason !== undefined) event.reason = reason
  const status = details?.status ?? error?.status
  if (status !== undefined) event.status = status
  if (error?.code === 'dependency_unavailable') {
    const cause = failureCause(error.cause)
    if (cause !== undefined) event.cause = cause
  }
  if (auth?.subject !== undefined) event.subject = auth.subject
  if (auth?.clientId !== undefined) event.clientId = auth.clientId
  if (auth?.issuer !== undefined) event.issuer = auth.issuer
  if (auth?.workload !== undefined) event.workload = auth.workload.id
  const ignored = ignoredHeaders.get(req)
  if (ignored !== undefined) {
    // Reported once, by the first decision about this request (its authentication).
    ignoredHeaders.delete(req)
    event.ignoredHeaders = ignored
  }
  event.method = req.method
  event.path = req.path
  if (req.requestId !== undefined) event.requestId = req.requestId
  if (details?.policies !== undefined) event.policies = [...details.policies]
  if (details?.diagnostics !== undefined) event.diagnostics = [...details.diagnostics]
  event.durationMs = Math.round((performance.now() - started) * 1000) / 1000
  // Rendering this error later (an adapter's error handler) must not report it a second time.
  if (error !== undefined) reportedErrors.add(error)
  try {
    // Nobody awaits the sink: an async one's rejection would be unhandled and end the process (issue 12).
    const returned: unknown = sink(event as unknown as DecisionEvent)
    if (returned instanceof Promise) returned.catch(sinkFailed)
  } catch (sinkError) {
    // The decision stands: an audit sink that throws must neither open nor break the request.
    sinkFailed(sinkError)
  }
}

// Headers a layer ignored on a request, until the decision about that request reports them.
const ignoredHeaders = new WeakMap<object, readonly string[]>()

/**
 * Notes that a layer ignored identity headers on `req` because its peer is not trusted to send them
 * (a sidecar's `x-forwarded-client-cert` from anyone else): the next decision event about `req`, its
 * authentication's whether allowed or denied, carries their names in `ignoredHeaders`.
 *
 * @example
 * if (!trustedHop(req.remoteAddress) && req.headerValues('l5d-client-id').length > 0) {
 *   noteIgnoredHeaders(req, ['l5d-client-id'])
 * }
 */
export function noteIgnoredHeaders(req: RequestLike, names: readonly string[]): void {
  if (names.length === 0) return
  const before = ignoredHeaders.get(req)
  const all = before === undefined ? names : [...before, ...names.filter((name) => !before.includes(name))]
  ignoredHeaders.set(req, Object.freeze([...all]))
}

function sinkFailed(sinkError: unknown): void {
  process.emitWarning(`zerotrust: the onDecision sink threw: ${describe(sinkError)}`, 'ZeroTrustWarning')
}

// Errors a layer reported that no adapter has rendered yet. Rendering one takes it out again, so an
// error is reported once whichever path renders it, and an error instance an application shares between
// requests (a constant it throws) is reported again on the next request that renders it.
const reportedErrors = new WeakSet<ZeroTrustError>()

/** What {@link reportRendered} reads of the adapter's request context. */
export interface RenderedContext {
  readonly view: ReportedRequest
  readonly onDecision: DecisionSink | undefined
  readonly auth?: ReportedCaller | undefined
}

/**
 * Reports the error an adapter is rendering, unless a layer already reported it: every answer a
 * zerotrust piece renders yields exactly one decision event, with the status the client receives.
 * Adapters call it wherever they render an error, error handlers included, so a `ZeroTrustError` a
 * route handler throws (403 `not_owner`) is reported under `layer` (`handler`), while a denial that
 * `runAuthentication`, `runAuthorization` or idempotency reported and that then reaches an error
 * handler (Koa, Hono) is not reported twice. Without a context or a sink it reports nothing.
 *
 * @example
 * const error = toZeroTrustError(thrown)
 * reportRendered(contextOf(req), error)
 * send(renderError(error))
 */
export function reportRendered(
  context: RenderedContext | undefined,
  error: ZeroTrustError,
  layer = 'handler',
): void {
  if (reportedErrors.delete(error)) return
  const sink = context?.onDecision
  if (context === undefined || sink === undefined) return
  reportDecision(sink, layer, context.view, performance.now(), context.auth, error)
  reportedErrors.delete(error)
}

function describe(error: unknown): string {
  return error instanceof Error ? error.name : typeof error
}
