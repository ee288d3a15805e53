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
  // workloadIdentity, source mtls: the client certificate (401 `unauthenticated_workload`).
  'no_client_certificate',
  'certificate_unverified',
  'certificate_expired',
  'certificate_not_yet_valid',
  'malformed_certificate',
  'certificate_is_ca',
  // workloadIdentity, sources xfcc and l5d: the sidecar's header (401 `unauthenticated_workload`).
  'untrusted_hop',
  'no_sidecar_header',
  'sidecar_header_too_large',
  'malformed_sidecar_header',
  'xfcc_by_mismatch',
  // workloadIdentity, every source: the SPIFFE ID (401 `unauthenticated_workload`).
  'no_spiffe_id',
  'multiple_uri_sans',
  'invalid_spiffe_id',
  'trust_domain_not_allowed',
  // workloadIdentity: a proven workload that may not call (403 `access_denied`).
  'workload_not_allowed',
] as const)

/** One of {@link workloadReasons}. */
export type WorkloadReason = (typeof workloadReasons)[number]
