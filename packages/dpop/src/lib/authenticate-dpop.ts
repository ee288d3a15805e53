import type { Auth, RequestLike } from '@zerotrust/core'
import { checkNonce } from './check-nonce.js'
import { checkRequest } from './check-request.js'
import { checkTokenBinding } from './check-token-binding.js'
import { claimProof } from './claim-proof.js'
import { readProof } from './read-proof.js'
import { rechallenge } from './rechallenge.js'
import type { DpopState } from './state.js'
import { verifyProof } from './verify-proof.js'

/**
 * Authenticates a request with `Authorization: DPoP <token>`: the RFC 9449 §4.3 checks in their order,
 * the token through the inner layer, its binding to the proof, and last the replay claim.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export async function authenticateDpop(state: DpopState, req: RequestLike, token: string): Promise<Auth> {
  const proof = verifyProof(state, readProof(state, req))
  const now = Date.now()
  checkRequest(state, proof, req, now)
  const responseHeaders = checkNonce(state, proof, now)

  let auth: Auth
  try {
    auth = await state.inner.verify(token, { binding: 'checked-by-caller' })
  } catch (error) {
    throw rechallenge(error, state.challenges.dpopFailure)
  }
  checkTokenBinding(state, proof, token, auth, req)
  await claimProof(state, proof)

  return responseHeaders === undefined
    ? { ...auth, scheme: 'DPoP' }
    : { ...auth, scheme: 'DPoP', responseHeaders }
}
