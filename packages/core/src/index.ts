// What a service developer writes: the interfaces of layers and stores, the one error class and its
// renderer, decision events, and the authorizers that need only a token's claims. Layers import their
// kit from `@zerotrust/core/layer`, adapters theirs from `@zerotrust/core/adapter`. Re-exports only.
export { allOf } from './all-of.js'
export { anyOf } from './any-of.js'
export type {
  Auth,
  Authenticator,
  Authorizer,
  Confirmation,
  Decision,
  DecisionDetails,
  Workload,
} from './auth.js'
export type { DecisionEvent, DecisionSink } from './decision.js'
export {
  type AuthScheme,
  type Challenge,
  errorTable,
  isZeroTrustError,
  ZeroTrustError,
  type ZeroTrustErrorCode,
  type ZeroTrustErrorOptions,
} from './errors.js'
export { type FailureCause, failureCause, failureCauses } from './failure-cause.js'
export type { IdempotencyLayer } from './idempotency.js'
export { type CoreReason, coreReasons } from './reasons.js'
export {
  type ProblemDetails,
  type RenderErrorOptions,
  type RenderedError,
  renderError,
} from './render-error.js'
export type { PeerCertificate, RequestLike } from './request.js'
export { type ClaimCheck, requireClaims } from './require-claims.js'
export { type RequireScopesOptions, requireScopes } from './require-scopes.js'
export type {
  IdempotencyClaim,
  IdempotencyClaimOptions,
  IdempotencyStore,
  ReplayStore,
  StoredResponse,
} from './stores.js'
