import {
  type DecisionSink,
  type ReportedCaller,
  type ReportedRequest,
  reportDecision,
  type ZeroTrustError,
} from '@zerotrust/core'

export type { ReportedCaller, ReportedRequest } from '@zerotrust/core'

/** The layer name of idempotency decision events. */
export const layerName = 'idempotency'

/**
 * Reports one idempotency decision through core's reporter, as authentication and authorization are
 * reported: `allow` with a reason (`claimed`, `replayed`, `pass_through`), `deny` for a 4xx, `error` for
 * our failures.
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
  reportDecision(sink, layerName, req, started, auth, error, reason === undefined ? undefined : { reason })
}
