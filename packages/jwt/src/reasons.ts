/**
 * The `reason`s of `jwtBearer`'s errors (beside core's, such as `token_in_query`). `claim:<name>` and
 * `missing_claim:<name>` stand for the prefix followed by a claim name. docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'jwks_cooldown') metrics.unknownKid.inc()
 */
export const jwtReasons = Object.freeze([
  'token_too_large',
  'malformed',
  'algorithm',
  'signature',
  'unknown_key',
  'ambiguous_key',
  'unsupported',
  'expired',
  'not_yet_valid',
  'too_old',
  'typ',
  'claim:<name>',
  'missing_claim:<name>',
  'iat_in_future',
  'non_canonical_encoding',
  'jwks_unavailable',
  'jwks_invalid',
  'jwks_timeout',
  'jwks_too_large',
  'jwks_no_usable_keys',
  'jwks_cooldown',
  'jwks_stale',
  'discovery_unavailable',
  'discovery_timeout',
  'discovery_too_large',
  'discovery_issuer_mismatch',
  'discovery_invalid_jwks_uri',
  'secret_unavailable',
  'secret_too_short',
  'secret_invalid',
] as const)

/** One of {@link jwtReasons}, with `claim:<name>` and `missing_claim:<name>` for any claim name. */
export type JwtReason =
  | Exclude<(typeof jwtReasons)[number], 'claim:<name>' | 'missing_claim:<name>'>
  | `claim:${string}`
  | `missing_claim:${string}`
