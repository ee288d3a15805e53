import type { Auth, Authenticator, Authorizer } from './auth.js'
import type { DecisionSink } from './decision.js'
import { optionError } from './options.js'
import { type OriginOptions, type OriginResolver, originResolver, type RequestLike } from './request.js'

/** The options every adapter's `authenticate()` takes, checked alike everywhere. */
export interface AdapterOptions extends OriginOptions {
  /** Receives a decision event for every authentication and authorization of the request. */
  readonly onDecision?: DecisionSink
  /** The `realm` of challenges that do not name one. */
  readonly realm?: string
}

/** {@link AdapterOptions} after checking, ready for the per-request path. */
export interface AdapterSettings {
  readonly resolveOrigin: OriginResolver
  readonly onDecision: DecisionSink | undefined
  readonly realm: string | undefined
}

/**
 * What an adapter's `authenticate()` leaves for the middleware after it on the same request, on the
 * framework's own request object (see {@link attachContext}), so nothing leaks between requests.
 */
export interface AdapterContext {
  readonly view: RequestLike
  readonly onDecision: DecisionSink | undefined
  readonly realm: string | undefined
  /**
   * The `Auth` the authenticator returned. Authorizers read it from here, not from the property users
   * see (`req.auth`), which other middleware could overwrite.
   */
  readonly auth?: Auth | undefined
}

// A property under a private symbol, not a WeakMap entry: a WeakMap set and get cost about 1.5 µs per
// request (benchmarks/RESULTS.md), the property next to nothing, and it goes away with the request.
const contextKey = Symbol('zerotrust.context')

/** Leaves `context` on a framework's request object (Express `req`, Koa `ctx`, Hono `c`). */
export function attachContext(target: object, context: AdapterContext): void {
  ;(target as { [contextKey]?: AdapterContext })[contextKey] = context
}

/** The context `authenticate()` left on a framework's request object; `undefined` when it did not run. */
export function contextOf(target: object): AdapterContext | undefined {
  return (target as { [contextKey]?: AdapterContext })[contextKey]
}

/** An origin resolver that knows no origin, for views built where no adapter options apply. */
export const noOrigin: OriginResolver = () => undefined

/**
 * Checks an adapter's `authenticate(authenticator, options)` arguments once, at construction, so every
 * framework rejects the same mistakes with the same messages. `factory` names the adapter's function in
 * them (`authenticate` by default; Fastify's plugin is `zeroTrust`).
 *
 * @example
 * const settings = adapterSettings(authenticator, options)
 * @throws TypeError naming the option, as `authenticate: "realm" option must be a string`
 */
export function adapterSettings(
  authenticator: Authenticator,
  options: AdapterOptions = {},
  factory = 'authenticate',
): AdapterSettings {
  if (typeof authenticator?.authenticate !== 'function') {
    throw new TypeError(`${factory}: needs an authenticator, such as jwtBearer(...)`)
  }
  if (typeof options !== 'object' || options === null)
    throw optionError(factory, undefined, 'must be an object')
  if (options.onDecision !== undefined && typeof options.onDecision !== 'function') {
    throw optionError(factory, 'onDecision', 'must be a function')
  }
  return Object.freeze({
    resolveOrigin: originResolver(options, factory),
    onDecision: options.onDecision,
    realm: checkRealm(options.realm, factory),
  })
}

/**
 * Checks a `realm` option of `factory` (`authenticate`, or an adapter's `errorHandler`, the default).
 *
 * @throws TypeError naming the option when it is present and not a string
 */
export function checkRealm(realm: unknown, factory = 'errorHandler'): string | undefined {
  if (realm !== undefined && typeof realm !== 'string')
    throw optionError(factory, 'realm', 'must be a string')
  return realm
}

/**
 * Checks the argument of an adapter's `authorize(authorizer)` at construction.
 *
 * @throws TypeError when it is not an authorizer
 */
export function checkAuthorizer(authorizer: Authorizer): void {
  if (typeof authorizer?.authorize !== 'function') {
    throw new TypeError('authorize: needs an authorizer, such as requireScopes(...)')
  }
}
