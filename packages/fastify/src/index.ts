import './types.js'

export type { Auth, DecisionEvent, DecisionSink, RequireScopesOptions } from '@zerotrust/core'
export { authorize, requireScopes, type ZeroTrustHook } from './authorize.js'
export { idempotent } from './idempotent.js'
export type { ZeroTrustRouteConfig, ZeroTrustRouteOptions } from './lib/route-plan.js'
export { type ZeroTrustOptions, zeroTrust } from './plugin.js'
