export {
  type ClientAuthentication,
  type ClientAuthMethod,
  clientSecretBasic,
  type PrivateKeyJwtOptions,
  privateKeyJwt,
  tlsClientAuth,
} from './client-auth.js'
export {
  type AccessToken,
  type ClientCredentials,
  type ClientCredentialsOptions,
  clientCredentials,
  type DpopKeyBinding,
  type TokenRequestOptions,
  type TokenSource,
} from './client-credentials.js'
export { ClientResponse, ClientResponseHeaders } from './client-response.js'
export type { Challenge } from './lib/challenges.js'
export type { ClientEvent, ClientEventSink } from './lib/events.js'
export type { Problem } from './lib/problem.js'
export type { ContextPropagator, HeaderSetter } from './lib/propagation.js'
export type { Svid, SvidSource } from './lib/svid.js'
export {
  isOutboundError,
  OutboundError,
  type OutboundErrorOptions,
  type OutboundTarget,
  type UpstreamAnswer,
} from './outbound-error.js'
export { type ClientReason, clientReasons } from './reasons.js'
export {
  type ClientRequestBody,
  type ClientRequestInit,
  type OnBehalfOfOptions,
  type OnBehalfOfTokens,
  type RetryOptions,
  type ZeroTrustClient,
  type ZeroTrustClientOptions,
  zeroTrustClient,
} from './zero-trust-client.js'
