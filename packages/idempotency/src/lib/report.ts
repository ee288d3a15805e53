import type { DecisionSink, ZeroTrustError } from '@zerotrust/core'
import { type ReportedCaller, type ReportedRequest, reportDecision } from '@zerotrust/core/layer'

export type { ReportedCaller, ReportedRequest } from '@zerotrust/core/layer'

/** The layer name of idempotency decision events. */
export const layerName = 'idempotency'

/**
 * Reports one idempotency decision through core's reporter, as authentication and authorization are
 * reported: `allow` with a reason (`claimed`, `replayed`, `pass_through`), `deny` for a 4xx, `error` for
 * our failures. `status` is the one the client received when it is not the error's: a store failure
 * after the handler answered 201 is reported with the 201.
 */
export function report(
  sink: DecisionSink | undefined,
  req: ReportedRequest,
  started: number,
  auth: ReportedCaller | undefined,
  error: ZeroTrustError | undefined,
  reason?: string,
  status?: number,
): void {
  if (sink === undefined) return
  const details: { reason?: string; status?: number } = {}
  if (reason !== undefined) details.reason = reason
  if (status !== undefined) details.status = status
  reportDecision(sink, layerName, req, started, auth, error, details)
}
