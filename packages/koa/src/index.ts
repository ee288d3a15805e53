import './types.js'

export type { Auth, DecisionEvent, DecisionSink, RequireScopesOptions } from '@zerotrust/core'
export { type AuthenticateOptions, authenticate } from './authenticate.js'
export { authorize, requireScopes } from './authorize.js'
export { type ErrorHandlerOptions, errorHandler } from './error-handler.js'
export { idempotent } from './idempotent.js'
