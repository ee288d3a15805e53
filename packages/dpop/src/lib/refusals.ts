import { type Challenge, ZeroTrustError } from '@zerotrust/core'

/** 401 `invalid_dpop_proof`: the proof is missing, malformed, or not made for this request. */
export function invalidProof(
  message: string,
  reason: string,
  challenges: readonly Challenge[],
): ZeroTrustError {
  return new ZeroTrustError('invalid_dpop_proof', message, { reason, challenges })
}

/** 401 `invalid_token` under the layer's challenges: the token does not fit the proof or the scheme. */
export function invalidToken(
  message: string,
  reason: string,
  challenges: readonly Challenge[],
): ZeroTrustError {
  return new ZeroTrustError('invalid_token', message, { reason, challenges })
}
