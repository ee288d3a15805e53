import type { RequestLike } from '@zerotrust/core'
import { requestUrl } from '@zerotrust/core/layer'
import { normalizeHtu } from './htu.js'
import type { VerifiedProof } from './proof.js'
import { invalidProof } from './refusals.js'
import type { DpopState } from './state.js'

/**
 * Checks that the proof was made for this request, now: its method, its URL (from the configured
 * origin, never from `Host`) and its `iat`, within `maxProofAge` in the past and `clockTolerance` in the
 * future.
 *
 * @param now milliseconds since the epoch
 * @throws ZeroTrustError `invalid_dpop_proof` (`htm`, `htu`, `iat_future`, `iat_too_old`); 500
 * `origin_not_configured` when the adapter knows no public origin
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3 (checks 7–9)
 */
export function checkRequest(state: DpopState, proof: VerifiedProof, req: RequestLike, now: number): void {
  const challenges = state.challenges.dpopFailure
  if (proof.htm !== req.method) {
    throw invalidProof('the DPoP proof was made for another method', 'htm', challenges)
  }
  // Without a configured origin, requestUrl throws the 500 that says so.
  const expected = state.htu.of(req.origin ?? requestUrl(req).origin, req.path)
  if (expected === undefined || normalizeHtu(proof.htu) !== expected) {
    throw invalidProof('the DPoP proof was made for another URL', 'htu', challenges)
  }
  const nowSeconds = now / 1000
  if (proof.iat > nowSeconds + state.clockTolerance) {
    throw invalidProof('the DPoP proof was issued in the future', 'iat_future', challenges)
  }
  if (proof.iat < nowSeconds - state.maxProofAge) {
    throw invalidProof('the DPoP proof is too old', 'iat_too_old', challenges)
  }
}
