/**
 * The `reason`s of `@zerotrust/workload`'s errors. docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'untrusted_hop') audit.warn('a sidecar header came from a peer that is not the sidecar')
 */
export const workloadReasons = Object.freeze([
  // svidFiles: an SVID that cannot be served (`dependency_unavailable`, thrown at the first load and
  // reported to `onError` on a rotation; never answered to a client).
  'svid_unreadable',
  'svid_key_mismatch',
  'svid_expired',
  'svid_not_yet_valid',
  'svid_untrusted',
  'svid_invalid',
  // serverTls: a server refused a new SVID (`dependency_unavailable`), or a new SVID arrived while no
  // server was attached (`internal_error`); reported to `onError`.
  'secure_context_failed',
  'server_not_attached',
] as const)

/** One of {@link workloadReasons}. */
export type WorkloadReason = (typeof workloadReasons)[number]
