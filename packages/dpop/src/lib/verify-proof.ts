import type { ProofProblem, VerifiedProof } from './proof.js'
import { invalidProof } from './refusals.js'
import type { DpopState } from './state.js'

/**
 * Checks the proof's form, header and signature, and reads its claims.
 *
 * @throws ZeroTrustError `invalid_dpop_proof` with the problem as its reason
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3 (checks 2–6)
 */
export function verifyProof(state: DpopState, proof: string): VerifiedProof {
  const verified = state.proofs.verify(proof)
  if (typeof verified === 'string') {
    throw invalidProof(messages[verified], verified, state.challenges.dpopFailure)
  }
  return verified
}

const messages: Readonly<Record<ProofProblem, string>> = {
  malformed_proof: 'the DPoP proof is malformed',
  typ: 'the DPoP proof must have the type "dpop+jwt"',
  alg: 'the DPoP proof algorithm is not accepted',
  crit: 'the DPoP proof names extensions that are not understood',
  jwk: 'the DPoP proof carries no usable public key',
  private_key: 'the DPoP proof key must be a public key',
  weak_key: 'the DPoP proof key is too weak',
  signature: 'the DPoP proof signature is invalid',
  missing_claim: 'the DPoP proof lacks a required claim',
}
