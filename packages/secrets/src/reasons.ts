/**
 * The `reason`s of the errors `loadSecrets` and its sources raise (to `onError`, `forceRefresh()` and
 * `current()`; never answered to a client). docs/errors.md lists exactly these.
 *
 * @example
 * onError: (err) => { if (isZeroTrustError(err) && err.reason === 'secret_stale') page(err) }
 */
export const secretsReasons = Object.freeze([
  'secret_invalid',
  'secret_stale',
  'source_failed',
  'refresh_failed',
  'file',
  'watch',
  'vault_unavailable',
  'vault_auth',
  'vault_response',
  'lease_expired',
  'lease_refused',
  'database_connection',
] as const)

/** One of {@link secretsReasons}. */
export type SecretsReason = (typeof secretsReasons)[number]
