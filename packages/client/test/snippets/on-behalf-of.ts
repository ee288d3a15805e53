import type { ZeroTrustClient } from '@zerotrust/client'
import type { Auth } from '@zerotrust/core'

// zeroTrustClient({ …, onBehalfOf: { tokens: internalTokens(…), audience: 'api://orders', scope: 'orders:read' } })
declare const orders: ZeroTrustClient

export async function ordersOf(user: Auth | undefined, signal: AbortSignal): Promise<unknown> {
  // The call's deadline and the inbound request's signal bound the minting too. A minter that breaks
  // fails the call with 500 mint_failed; its refusal (403 insufficient_scope) arrives as it is.
  const answer = await orders.fetch('/v1/orders', { onBehalfOf: user, signal, deadline: 2_000 })
  return answer.json()
}
