export { type Introspection, introspection } from './introspection.js'
export type {
  ClientAuthentication,
  ClientPrivateKey,
  ClientSecret,
  IntrospectionOptions,
} from './lib/options.js'
export { type IntrospectionReason, introspectionReasons } from './reasons.js'
