export { type CedarAuthorizer, cedarAuthorizer } from './cedar-authorizer.js'
export type {
  CedarAuthorizerOptions,
  CedarEntity,
  CedarValue,
  EntitiesResult,
  EntityRef,
  EntitySnapshot,
  PolicySource,
  ReloadResult,
  SchemaSource,
} from './lib/options.js'
export { CedarPolicyError, type PolicyProblem } from './lib/sources.js'
export { type CedarReason, cedarReasons } from './reasons.js'
