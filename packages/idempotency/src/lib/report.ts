import type { Auth, DecisionEvent, DecisionSink, RequestLike, ZeroTrustError } from '@zerotrust/core'

/** What a decision event names of the request. */
export type ReportedRequest = Pick<RequestLike, 'method' | 'path' | 'requestId'>

/** What a decision event names of the caller. */
export type ReportedCaller = Pick<Auth, 'subject' | 'clientId' | 'issuer'>

/** The layer name of idempotency decision events. */
export const layerName = 'idempotency'

/**
 * Reports one idempotency decision the way core reports authentication and authorization: `allow` with
 * a reason (`claimed`, `replayed`, `pass_through`), `deny` for a 4xx, `error` for our failures.
 */
export function report(
  sink: DecisionSink | undefined,
  req: ReportedRequest,
  started: number,
  auth: ReportedCaller | undefined,
  error: ZeroTrustError | undefined,
  reason?: string,
): void {
  if (sink === undefined) return
  const event: Record<string, unknown> = {
    layer: layerName,
    outcome: error === undefined ? 'allow' : error.status >= 500 ? 'error' : 'deny',
    code: error === undefined ? 'ok' : error.code,
  }
  const why = error?.reason ?? reason
  if (why !== undefined) event.reason = why
  if (error !== undefined) event.status = error.status
  if (auth?.subject !== undefined) event.subject = auth.subject
  if (auth?.clientId !== undefined) event.clientId = auth.clientId
  if (auth?.issuer !== undefined) event.issuer = auth.issuer
  event.method = req.method
  event.path = req.path
  if (req.requestId !== undefined) event.requestId = req.requestId
  event.durationMs = Math.round((performance.now() - started) * 1000) / 1000
  try {
    sink(event as unknown as DecisionEvent)
  } catch (sinkError) {
    // The decision stands: an audit sink that throws must neither open nor break the request.
    const kind = sinkError instanceof Error ? sinkError.name : typeof sinkError
    process.emitWarning(`zerotrust: the onDecision sink threw: ${kind}`, 'ZeroTrustWarning')
  }
}
