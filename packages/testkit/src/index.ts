export {
  type AccessTokenClaims,
  defaultTokenLifetime,
  type HeaderOverrides,
  type HmacAlgorithm,
  type SharedSecret,
  signAccessToken,
} from './access-token.js'
export {
  type AuthorizationServer,
  type AuthorizationServerOptions,
  type ClientAuthMethod,
  type ClientOptions,
  type IntrospectionResponse,
  type RegisteredAuthMethod,
  type RegisteredClient,
  type ResourceServerOptions,
  startAuthorizationServer,
  type TokenFormat,
  type TokenRequest,
  TokenRequestError,
  type TokenResponse,
} from './authorization-server.js'
export { createDpopProof, type DpopProofOptions } from './dpop-proof.js'
export { startHttpServer, type TestHttpServer } from './http-server.js'
export {
  type JwksServer,
  type JwksServerOptions,
  type OutageMode,
  type RequestCounts,
  startJwksServer,
} from './jwks-server.js'
export {
  type AsymmetricAlgorithm,
  generateSigningKey,
  jwkThumbprint,
  type SigningKey,
  toJwks,
} from './keys.js'
export { sendRaw, type TestRequest, type TestResponse } from './raw-http.js'
export { type TestIssuer, testIssuer } from './test-issuer.js'
