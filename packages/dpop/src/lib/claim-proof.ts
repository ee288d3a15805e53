import { createHash } from 'node:crypto'
import { isZeroTrustError, ZeroTrustError } from '@zerotrust/core'
import type { VerifiedProof } from './proof.js'
import { invalidProof } from './refusals.js'
import type { DpopState } from './state.js'

/**
 * Claims the proof's `jti` in the replay store, under its key's thumbprint, for as long as the proof
 * could be accepted: each proof once (§11.1). Called last, so a proof refused for another reason does not
 * burn its `jti`.
 *
 * @throws ZeroTrustError `invalid_dpop_proof` (`replayed`); 503 `dependency_unavailable`
 * (`replay_store_unavailable`, or the store's own refusal) when the store fails, never an allow
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export async function claimProof(state: DpopState, proof: VerifiedProof): Promise<void> {
  let first: boolean
  try {
    first = await state.replayStore.claim(replayKey(proof.thumbprint, proof.jti), state.replayTtlMs)
  } catch (error) {
    if (isZeroTrustError(error)) throw error
    throw new ZeroTrustError('dependency_unavailable', 'the DPoP replay store cannot be reached', {
      reason: 'replay_store_unavailable',
      cause: error,
      retryAfter: 1,
    })
  }
  if (!first) throw invalidProof('the DPoP proof was already used', 'replayed', state.challenges.dpopFailure)
}

function replayKey(thumbprint: string, jti: string): string {
  return createHash('sha256').update(thumbprint).update('.').update(jti).digest('base64url')
}
