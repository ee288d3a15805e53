import { type Challenge, isZeroTrustError } from '@zerotrust/core'

/**
 * The inner layer's refusal under this layer's challenges, which offer both schemes; anything else as it
 * is. An error without challenges (a 503) keeps having none.
 */
export function rechallenge(error: unknown, challenges: readonly Challenge[]): unknown {
  return isZeroTrustError(error) && error.challenges !== undefined ? error.with({ challenges }) : error
}
