import { ZeroTrustError } from '@zerotrust/core'
import type { StatelessNonces } from './nonces.js'
import type { VerifiedProof } from './proof.js'
import type { DpopState } from './state.js'

/**
 * Checks the server nonce a proof carries, once nonces are on, and returns the headers a success
 * carries: the current nonce rides on every success (§8.2), so a client holding the previous period's
 * nonce (still accepted) moves on before it goes stale.
 *
 * @param now milliseconds since the epoch
 * @returns the response headers, or `undefined` when nonces are off
 * @throws ZeroTrustError `use_dpop_nonce` (`nonce_missing`, `nonce_invalid`, `nonce_stale`) with a fresh
 * `DPoP-Nonce`
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8 (check 10)
 */
export function checkNonce(
  state: DpopState,
  proof: VerifiedProof,
  now: number,
): Readonly<Record<string, string>> | undefined {
  const { nonces } = state
  if (nonces === undefined) return undefined
  if (proof.nonce === undefined) {
    throw useNonce(state, nonces, 'the DPoP proof must carry the server nonce', 'nonce_missing')
  }
  const check = nonces.check(proof.nonce, now)
  if (check === 'invalid')
    throw useNonce(state, nonces, 'the DPoP proof carries an unknown nonce', 'nonce_invalid')
  if (check === 'stale')
    throw useNonce(state, nonces, 'the DPoP proof carries an expired nonce', 'nonce_stale')
  return nonces.headers(now)
}

function useNonce(
  state: DpopState,
  nonces: StatelessNonces,
  message: string,
  reason: string,
): ZeroTrustError {
  return new ZeroTrustError('use_dpop_nonce', message, {
    reason,
    challenges: state.challenges.dpopFailure,
    headers: nonces.headers(),
  })
}
