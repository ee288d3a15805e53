// The kit of `@zerotrust/core/layer`: what a layer (an authenticator, an authorizer, the idempotency
// layer) needs beside the names users import from `@zerotrust/core`. Re-exports only.
export { isCanonicalBase64url } from '../base64url.js'
export { checkBinding, checkCertificateBinding, isDpopBound, type VerifyOptions } from '../binding.js'
export {
  BoundedFetchError,
  type BoundedFetchErrorCode,
  type BoundedFetchOptions,
  type BoundedResponse,
  fetchBounded,
  fetchJson,
  isBoundedFetchError,
  readBoundedBody,
} from '../bounded-fetch.js'
export { type AuthClaim, type ClaimsToAuthOptions, claimsToAuth } from '../claims-to-auth.js'
export {
  type Credentials,
  checkTokenSyntax,
  type ReadCredentialsOptions,
  readCredentials,
  takeCredentials,
} from '../credentials.js'
export {
  noteIgnoredHeaders,
  type ReportedCaller,
  type ReportedDetails,
  type ReportedRequest,
  reportDecision,
} from '../decision.js'
export {
  type AuthorizationServerDiscoveryOptions,
  authorizationServerDiscovery,
  type DiscoveryFunctions,
} from '../discovery.js'
export { checkEndpoint } from '../endpoint.js'
export { bearerChallenges, toZeroTrustError } from '../errors.js'
export type {
  CapturedResponse,
  IdempotencyBegin,
  IdempotencyHandle,
  IdempotencyInput,
  RequestBody,
} from '../idempotency.js'
export { type IntegerBounds, type OptionsSchema, option, type Parsed, parseOptions } from '../options.js'
export { presentedToken, recordPresentedToken } from '../presented-token.js'
export { requestUrl } from '../request.js'
export {
  checkCaller,
  type IdempotencyRefusal,
  maxCallerLength,
  refusedClaimError,
  retryAfterSeconds,
  storedResponseSize,
} from '../store-kit.js'
