/**
 * The `reason`s of `dpop`'s and `requireDpop`'s errors (the inner authenticator's pass through as they
 * are). docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'replayed') audit.warn('a DPoP proof was replayed')
 */
export const dpopReasons = Object.freeze([
  'missing_proof',
  'multiple_proofs',
  'proof_too_large',
  'malformed_proof',
  'typ',
  'alg',
  'crit',
  'jwk',
  'private_key',
  'weak_key',
  'signature',
  'missing_claim',
  'htm',
  'htu',
  'iat_too_old',
  'iat_future',
  'ath',
  'replayed',
  'nonce_missing',
  'nonce_invalid',
  'nonce_stale',
  'key_mismatch',
  'not_dpop_bound',
  'dpop_required',
  'dpop_bound',
  'proof_with_bearer',
  'replay_store_unavailable',
  'replay_store_full',
] as const)

/** One of {@link dpopReasons}. */
export type DpopReason = (typeof dpopReasons)[number]
