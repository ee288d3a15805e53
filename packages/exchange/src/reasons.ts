/**
 * The `reason`s of `@zerotrust/exchange`'s errors. docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'actor_chain_too_deep') audit.warn('a token passed through too many services')
 */
export const exchangeReasons = Object.freeze([
  // internalTokens and tokenExchange's mint: the inbound Auth cannot be turned into a token for the user.
  'no_subject',
  'subject_expired',
  // internalTokens and tokenExchange: the requested scopes are not all the user's (403
  // `insufficient_scope`): an internal token is never wider than the token it came from.
  'scope_not_granted',
  // internalTokens: minting for an audience outside the `audiences` list; either minter: for no audience
  // (500 `internal_error`, a mistake of the calling code, never the client's).
  'audience_not_allowed',
  // internalTokens: no usable signing key (the secret is stale, or its first value cannot sign): 503.
  'signing_key_unavailable',
  // internalTokens: a rotated key that cannot sign (reported to `onError`; the previous key keeps signing).
  'signing_key_invalid',
  // maxActorDepth, actorChain: the `act` claim (RFC 8693 §4.1), 401 `invalid_token`.
  'actor_chain_too_deep',
  'malformed_actor',
  // tokenExchange: the authorization server (RFC 8693 §2.2).
  'exchange_unavailable',
  'exchange_malformed',
  'exchange_refused',
  // tokenExchange's mint: a DPoP- or certificate-bound user token is never presented without its proof
  // (403 `access_denied`); no authenticator recorded the token the Auth was made from (500).
  'subject_token_bound',
  'subject_token_unavailable',
] as const)

/** One of {@link exchangeReasons}. */
export type ExchangeReason = (typeof exchangeReasons)[number]
