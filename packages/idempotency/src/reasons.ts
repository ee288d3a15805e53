/**
 * The `reason`s of the idempotency layer: those of its errors, those its decision events carry when a
 * failure comes after the handler answered, and those of its `allow` events (`claimed`, `replayed`,
 * `pass_through`). docs/errors.md lists exactly these.
 *
 * @example
 * onDecision: (e) => { if (e.layer === 'idempotency' && e.reason === 'pass_through') alert(e) }
 */
export const idempotencyReasons = Object.freeze([
  'missing_key',
  'malformed_key',
  'key_not_quoted',
  'empty_key',
  'key_too_long',
  'repeated_key',
  'in_flight',
  'fingerprint_mismatch',
  'no_caller_identity',
  'unauthenticated',
  'body_not_read',
  'body_not_parsed',
  'body_too_deep',
  'store_unavailable',
  'store_full',
  'caller_quota',
  'complete_failed',
  'release_failed',
  'renew_failed',
  'lock_expired',
  'lock_hold_limit',
  'claimed',
  'replayed',
  'pass_through',
] as const)

/** One of {@link idempotencyReasons}. */
export type IdempotencyReason = (typeof idempotencyReasons)[number]
