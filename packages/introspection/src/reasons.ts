import { unavailableReasons } from './lib/translate-error.js'

/**
 * The `reason`s of `introspection`'s errors (beside core's, such as `token_in_query`): the 503s of an
 * endpoint that cannot answer, and the 401s of a token it calls inactive or that fails our checks.
 * `claim:<name>` stands for `claim:` followed by a claim name. docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'introspection_overloaded') metrics.shed.inc()
 */
export const introspectionReasons = Object.freeze([
  ...unavailableReasons,
  'inactive',
  'jwt_shaped',
  'token_too_large',
  'expired',
  'not_yet_valid',
  'claim:<name>',
] as const)

/** One of {@link introspectionReasons}, with `claim:<name>` for any claim name. */
export type IntrospectionReason =
  | Exclude<(typeof introspectionReasons)[number], 'claim:<name>'>
  | `claim:${string}`
