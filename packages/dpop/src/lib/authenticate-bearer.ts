import { type Auth, type RequestLike, ZeroTrustError } from '@zerotrust/core'
import { isDpopBound } from '@zerotrust/core/layer'
import { rechallenge } from './rechallenge.js'
import { invalidToken } from './refusals.js'
import type { DpopState } from './state.js'

/**
 * Authenticates a request with `Authorization: Bearer <token>` through the inner layer, where bearer
 * tokens are accepted at all: a DPoP-bound token is never accepted as a bearer token (§7.2), and a
 * bearer token is never upgraded by a proof sent beside it.
 *
 * @throws ZeroTrustError `invalid_token` (`dpop_required`, `dpop_bound`), `invalid_request`
 * (`proof_with_bearer`), or the inner layer's refusal under this layer's challenges
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.2
 */
export async function authenticateBearer(state: DpopState, req: RequestLike): Promise<Auth> {
  const { challenges } = state
  if (state.required) {
    throw invalidToken(
      'this resource requires a DPoP-bound access token',
      'dpop_required',
      challenges.dpopOnly,
    )
  }
  // A proof beside a bearer token: the client meant DPoP but sent the wrong scheme. Refused, so that no
  // one can take the proof for a check that did not happen.
  if (req.headerValues('dpop').length > 0) {
    throw new ZeroTrustError('invalid_request', 'a DPoP proof needs the DPoP authorization scheme', {
      reason: 'proof_with_bearer',
      challenges: challenges.bearerFailure,
    })
  }
  let auth: Auth
  try {
    auth = await state.inner.authenticate(req)
  } catch (error) {
    throw rechallenge(error, challenges.bearerFailure)
  }
  // The inner layer refuses DPoP-bound bearer tokens (§7.2); this guards an inner layer that would not.
  if (isDpopBound(auth)) {
    throw invalidToken('the access token is bound to a DPoP key', 'dpop_bound', challenges.bearerFailure)
  }
  return auth
}
