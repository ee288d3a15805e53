export {
  type AdapterContext,
  type AdapterOptions,
  type AdapterSettings,
  adapterSettings,
  attachContext,
  checkAuthorizer,
  checkRealm,
  contextOf,
  noOrigin,
} from './adapter.js'
export { anyOf } from './any-of.js'
export type { Auth, Authenticator, Authorizer, Confirmation, Decision, DecisionDetails } from './auth.js'
export { isCanonicalBase64url } from './base64url.js'
export { checkBinding, checkCertificateBinding, isDpopBound, type VerifyOptions } from './binding.js'
export {
  BoundedFetchError,
  type BoundedFetchErrorCode,
  type BoundedFetchOptions,
  type BoundedResponse,
  fetchBounded,
  fetchJson,
  isBoundedFetchError,
  readBoundedBody,
} from './bounded-fetch.js'
export {
  type Credentials,
  checkTokenSyntax,
  type ReadCredentialsOptions,
  readCredentials,
  takeCredentials,
} from './credentials.js'
export {
  type DecisionEvent,
  type DecisionSink,
  type RenderedContext,
  type ReportedCaller,
  type ReportedDetails,
  type ReportedRequest,
  reportDecision,
  reportRendered,
  runAuthentication,
  runAuthorization,
} from './decision.js'
export { checkEndpoint } from './endpoint.js'
export {
  type AuthScheme,
  bearerChallenges,
  type Challenge,
  errorTable,
  isZeroTrustError,
  toZeroTrustError,
  ZeroTrustError,
  type ZeroTrustErrorCode,
  type ZeroTrustErrorOptions,
} from './errors.js'
export { exposeHeaders } from './expose-headers.js'
export {
  type CapturedResponse,
  captureFetchResponse,
  captureNodeResponse,
  checkIdempotencyLayer,
  type IdempotencyBegin,
  type IdempotencyHandle,
  type IdempotencyInput,
  type IdempotencyLayer,
  type NodeResponseTarget,
  parsedBody,
  type RequestBody,
} from './idempotency.js'
export { type IntegerBounds, type OptionsSchema, option, type Parsed, parseOptions } from './options.js'
export { type CoreReason, coreReasons } from './reasons.js'
export {
  type ProblemDetails,
  type RenderErrorOptions,
  type RenderedError,
  renderError,
} from './render-error.js'
export {
  type ConnectionInfo,
  type FetchRequestOptions,
  fromFetchRequest,
  fromNodeRequest,
  type NodeRequestOptions,
  type NodeRequestSource,
  type OriginOptions,
  type OriginResolver,
  originResolver,
  type PeerCertificate,
  type RequestLike,
  requestTarget,
  requestUrl,
  withRoute,
} from './request.js'
export { type ClaimCheck, requireClaims } from './require-claims.js'
export { type RequireScopesOptions, requireScopes } from './require-scopes.js'
export type {
  IdempotencyClaim,
  IdempotencyClaimOptions,
  IdempotencyStore,
  ReplayStore,
  StoredResponse,
} from './stores.js'
