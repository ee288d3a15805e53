import type { Auth, Authenticator, Authorizer, DecisionDetails } from './auth.js'
import { toZeroTrustError, type ZeroTrustError, type ZeroTrustErrorCode } from './errors.js'
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
  readonly subject?: string
  readonly clientId?: string
  readonly issuer?: string
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
 * Runs an authenticator on a request and reports the decision. Resolves with the `Auth`; rejects with a
 * `ZeroTrustError` (unknown errors become `internal_error`). Adapters call this, so they report alike.
 */
export async function runAuthentication(
  authenticator: Authenticator,
  req: RequestLike,
  onDecision?: DecisionSink,
): Promise<Auth> {
  const started = onDecision ? performance.now() : 0
  try {
    const auth = await authenticator.authenticate(req)
    if (onDecision) report(onDecision, authenticator.layer, req, started, auth, undefined)
    return auth
  } catch (thrown) {
    const error = toZeroTrustError(thrown)
    if (onDecision) report(onDecision, authenticator.layer, req, started, undefined, error)
    throw error
  }
}

/**
 * Runs an authorizer for an authenticated request and reports the decision. Resolves when allowed;
 * rejects with the denial's `ZeroTrustError`. Without `auth` (authorization mounted before
 * authentication) it fails closed with `internal_error`.
 */
export async function runAuthorization(
  authorizer: Authorizer,
  req: RequestLike,
  auth: Auth | undefined,
  onDecision?: DecisionSink,
): Promise<void> {
  const started = onDecision ? performance.now() : 0
  let error: ZeroTrustError
  let details: DecisionDetails | undefined
  try {
    if (auth === undefined) {
      throw new Error('authorization ran before authentication: mount authenticate() first')
    }
    const decision = await authorizer.authorize(req, auth)
    details = decision
    if (decision.allowed) {
      if (onDecision) report(onDecision, authorizer.layer, req, started, auth, undefined, details)
      return
    }
    error = toZeroTrustError(decision.error)
  } catch (thrown) {
    error = toZeroTrustError(thrown)
  }
  if (onDecision) report(onDecision, authorizer.layer, req, started, auth, error, details)
  throw error
}

function report(
  sink: DecisionSink,
  layer: string,
  req: RequestLike,
  started: number,
  auth: Auth | undefined,
  error: ZeroTrustError | undefined,
  details?: DecisionDetails,
): void {
  const event: Record<string, unknown> = {
    layer,
    outcome: error === undefined ? 'allow' : error.status >= 500 ? 'error' : 'deny',
    code: error === undefined ? 'ok' : error.code,
  }
  if (error?.reason !== undefined) event.reason = error.reason
  if (error !== undefined) event.status = error.status
  if (auth?.subject !== undefined) event.subject = auth.subject
  if (auth?.clientId !== undefined) event.clientId = auth.clientId
  if (auth?.issuer !== undefined) event.issuer = auth.issuer
  event.method = req.method
  event.path = req.path
  if (req.requestId !== undefined) event.requestId = req.requestId
  if (details?.policies !== undefined) event.policies = [...details.policies]
  if (details?.diagnostics !== undefined) event.diagnostics = [...details.diagnostics]
  event.durationMs = Math.round((performance.now() - started) * 1000) / 1000
  try {
    sink(event as unknown as DecisionEvent)
  } catch (sinkError) {
    // The decision stands: an audit sink that throws must neither open nor break the request.
    process.emitWarning(`zerotrust: the onDecision sink threw: ${describe(sinkError)}`, 'ZeroTrustWarning')
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.name : typeof error
}
