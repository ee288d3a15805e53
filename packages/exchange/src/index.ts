export {
  type Actor,
  type ActorContext,
  actorChain,
  actorContext,
  defaultMaxActorDepth,
} from './actor-chain.js'
export {
  type InternalTokens,
  internalTokens,
  type JsonWebKeySet,
  type MintRequest,
} from './internal-tokens.js'
export type { IssuedToken } from './lib/issued-token.js'
export type {
  CertificateSource,
  ClientCertificate,
  ClientCertificateSource,
  InternalTokensOptions,
  PrivateKeyMaterial,
  SigningAlgorithm,
  SigningKeySource,
  TokenExchangeOptions,
} from './lib/options.js'
export { type MaxActorDepthOptions, maxActorDepth } from './max-actor-depth.js'
export { type ExchangeReason, exchangeReasons } from './reasons.js'
export {
  type ExchangeMintRequest,
  type ExchangeRequest,
  type TokenExchange,
  tokenExchange,
} from './token-exchange.js'
