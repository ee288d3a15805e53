import type { RequestLike } from '@zerotrust/core'
import { invalidProof } from './refusals.js'
import type { DpopState } from './state.js'

/**
 * Takes the request's one `DPoP` proof, bounded in length before anything parses it.
 *
 * @throws ZeroTrustError `invalid_dpop_proof` (`missing_proof`, `multiple_proofs`, `proof_too_large`)
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3 (check 1)
 */
export function readProof(state: DpopState, req: RequestLike): string {
  const challenges = state.challenges.dpopFailure
  const values = req.headerValues('dpop')
  if (values.length === 0)
    throw invalidProof('the request carries no DPoP proof', 'missing_proof', challenges)
  const proof = values[0] as string
  // Fetch-based servers join repeated headers with ", ", which a compact JWS never contains.
  if (values.length > 1 || proof.includes(',')) {
    throw invalidProof('the request carries more than one DPoP proof', 'multiple_proofs', challenges)
  }
  if (proof.length > state.maxProofLength) {
    throw invalidProof('the DPoP proof is too large', 'proof_too_large', challenges)
  }
  return proof
}
