import './types.js'

export type { Auth, DecisionEvent, DecisionSink, RequireScopesOptions } from '@zerotrust/core'
export { type AuthenticateOptions, authenticate } from './authenticate.js'
export { type AuthorizeOptions, authorize, requireScopes } from './authorize.js'
export { type ErrorHandlerOptions, errorHandler } from './error-handler.js'
export { type IdempotentOptions, idempotent } from './idempotent.js'
