import { isZeroTrustError } from '@zerotrust/core'
import type { RotatingPool } from '@zerotrust/secrets/pg'

declare const db: RotatingPool

export async function countOrders(): Promise<number | 'retry later'> {
  try {
    const { rows } = await db.query<{ n: number }>('select count(*)::int as n from orders')
    return rows[0]?.n ?? 0
  } catch (error) {
    // Vault was down past the lease: 503 dependency_unavailable, reason lease_expired. Thrown from a
    // route handler, the zerotrust adapters answer it as a 503 problem with Retry-After.
    if (isZeroTrustError(error) && error.reason === 'lease_expired') return 'retry later'
    throw error
  }
}
