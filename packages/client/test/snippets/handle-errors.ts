import { isOutboundError, type ZeroTrustClient } from '@zerotrust/client'

declare const billing: ZeroTrustClient

export async function findCharge(id: string): Promise<unknown> {
  try {
    return await (await billing.fetch(`/v1/charges/${encodeURIComponent(id)}`)).json()
  } catch (error) {
    // The called service answered 404: its status, problem and challenges are in `upstream`.
    if (isOutboundError(error) && error.upstream?.status === 404) return undefined
    // Anything else (503 dependency_unavailable, 500 internal_error) goes on: thrown from a route, the
    // zerotrust adapters answer it as a problem, with Retry-After for a 503.
    throw error
  }
}
