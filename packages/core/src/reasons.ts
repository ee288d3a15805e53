/**
 * The `reason`s core's own checks give their errors (reading credentials, binding checks, the scope and
 * claim authorizers, the request view) and those of a store's refused claim. `claim:<name>` stands for `claim:` followed by a claim name.
 * docs/errors.md lists exactly these, beside each layer's.
 *
 * @example
 * if (coreReasons.includes(err.reason as CoreReason)) metrics.refusals.inc({ reason: err.reason })
 */
export const coreReasons = Object.freeze([
  'multiple_credentials',
  'token_in_query',
  'malformed_authorization',
  'token_too_large',
  'dpop_bound',
  'certificate_mismatch',
  'missing_scope',
  'claim:<name>',
  'malformed_target',
  'origin_not_configured',
  // `allOf`: two authenticators proved different workloads.
  'workload_mismatch',
  // The refusals an idempotency store answers a claim with (`IdempotencyClaim`), which the layer turns
  // into 429 and 503.
  'caller_quota',
  'store_full',
] as const)

/** One of {@link coreReasons}, with `claim:<name>` for any claim name. */
export type CoreReason = Exclude<(typeof coreReasons)[number], 'claim:<name>'> | `claim:${string}`
