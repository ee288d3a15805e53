/**
 * The `reason`s of `@zerotrust/client`'s errors and events. docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'peer_mismatch') audit.warn('a server presented another workload identity')
 */
export const clientReasons = Object.freeze([
  // The transport: the server's identity and the connection.
  'peer_mismatch',
  'peer_unverified',
  'connection_failed',
  'timeout',
  'deadline',
  'aborted',
  'response_too_large',
  // What the called service answered, once retries are spent or not allowed.
  'upstream_unavailable',
  'upstream_refused',
  // The access token of a call.
  'token_unavailable',
  'token_refused',
  'token_malformed',
  // The token minted for a call's user (`onBehalfOf`): the minter failed other than by refusing.
  'mint_failed',
] as const)

/** One of {@link clientReasons}. */
export type ClientReason = (typeof clientReasons)[number]
