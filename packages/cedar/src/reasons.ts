/**
 * The `reason`s of `cedarAuthorizer`'s errors. docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'denied_by_policy') audit.info('policy deny')
 */
export const cedarReasons = Object.freeze([
  'denied_by_policy',
  'unrepresentable_value',
  'invalid_request',
  'no_principal',
  'too_many_scopes',
  'scope_too_long',
  'no_route',
  'entities_unavailable',
] as const)

/** One of {@link cedarReasons}. */
export type CedarReason = (typeof cedarReasons)[number]
