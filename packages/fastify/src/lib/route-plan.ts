import { type Authorizer, type RequireScopesOptions, requireScopes } from '@zerotrust/core'
import type { OptionMistake } from '@zerotrust/core/adapter'
import type { FastifyContextConfig, FastifyRequest } from 'fastify'
import { routeConfig } from './route-config.js'

/**
 * What a route asks of zerotrust, in its `config.zeroTrust`. Scopes are checked first, then the
 * authorizers in order; the first denial answers the request.
 *
 * @example
 * app.post('/orders', { config: { zeroTrust: { scopes: ['orders:write'] } } }, createOrder)
 */
export interface ZeroTrustRouteOptions {
  /** Scopes the access token must carry: 403 `insufficient_scope` naming them otherwise. */
  readonly scopes?: string | readonly string[]
  /** `all` (default): every scope in `scopes` is required; `any`: one of them suffices. */
  readonly match?: RequireScopesOptions['match']
  /** Authorizers to ask after the scope check, such as `requireClaims(...)` or a Cedar authorizer. */
  readonly authorize?: Authorizer | readonly Authorizer[]
}

/**
 * A route's `config.zeroTrust`: its options, or `false` to opt the route out of zerotrust altogether
 * (no authentication, no decision events).
 */
export type ZeroTrustRouteConfig = ZeroTrustRouteOptions | false

/** A route's checked configuration: `false` when opted out, else the authorizers to run in order. */
export type RoutePlan = false | readonly Authorizer[]

/** The plan of a route without `config.zeroTrust`: authenticated, with no authorizer of its own. */
const authenticatedOnly: RoutePlan = Object.freeze([])

const knownOptions = new Set(['scopes', 'match', 'authorize'])

/**
 * Checks a route's `config.zeroTrust` and builds its authorizers, once, when the route is declared.
 *
 * @throws TypeError naming the route and the option, as `zeroTrust: route "GET /x": "zeroTrust.scope"
 * option is not recognized`; an unknown option is refused, since a misspelt `scope` would otherwise leave
 * the route open to every authenticated caller
 */
export function buildRoutePlan(config: unknown, route: string): RoutePlan {
  const mistake = (option: string, rule: string): TypeError =>
    new TypeError(`zeroTrust: route "${route}": "${option}" option ${rule}`, {
      cause: Object.freeze({ factory: 'zeroTrust', option, rule }) satisfies OptionMistake,
    })
  if (config === undefined) return authenticatedOnly
  if (config === false) return false
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw mistake('zeroTrust', 'must be false or an object')
  }
  const options = config as Record<string, unknown>
  for (const key of Object.keys(options)) {
    if (!knownOptions.has(key)) throw mistake(`zeroTrust.${key}`, 'is not recognized')
  }
  const { scopes, match, authorize } = options as ZeroTrustRouteOptions
  const authorizers: Authorizer[] = []
  if (scopes !== undefined) {
    try {
      authorizers.push(requireScopes(scopes, match === undefined ? {} : { match }))
    } catch (error) {
      // requireScopes names its own options, which a route writes as "zeroTrust.scopes" and "zeroTrust.match".
      const cause =
        error instanceof TypeError ? (error.cause as Partial<OptionMistake> | undefined) : undefined
      if (cause?.factory !== 'requireScopes' || cause.option === undefined || cause.rule === undefined)
        throw error
      throw mistake(`zeroTrust.${cause.option}`, cause.rule)
    }
  } else if (match !== undefined) {
    throw mistake('zeroTrust.match', 'needs "zeroTrust.scopes"')
  }
  if (authorize !== undefined) {
    const list: readonly unknown[] = Array.isArray(authorize) ? authorize : [authorize]
    if (list.length === 0) throw mistake('zeroTrust.authorize', 'must not be an empty array')
    for (const authorizer of list) {
      if (typeof (authorizer as Partial<Authorizer> | null)?.authorize !== 'function') {
        throw mistake(
          'zeroTrust.authorize',
          'must be an authorizer or an array of them, such as requireClaims(...)',
        )
      }
      authorizers.push(authorizer as Authorizer)
    }
  }
  return Object.freeze(authorizers)
}

/** Where `onRoute` leaves a route's plan: inside the route's own `config`, under a private key. */
const kPlan: unique symbol = Symbol('zerotrust.route')

interface PlannedConfig {
  readonly [kPlan]?: RoutePlan
  readonly zeroTrust?: unknown
  readonly method?: string
  readonly url?: string
}

/** How messages name a route: `GET /orders/:id`. */
export function routeName(method: string | readonly string[] | undefined, url: string | undefined): string {
  return `${[method].flat().join(',')} ${url}`
}

/** A copy of a route's `config` that carries its plan, for {@link routePlan} to find per request. */
export function withPlan(config: FastifyContextConfig | undefined, plan: RoutePlan): FastifyContextConfig {
  return { ...config, [kPlan]: plan } as FastifyContextConfig
}

// Plans of routes that `onRoute` never saw (declared before the plugin loaded), by route config.
const latePlans = new WeakMap<object, RoutePlan | TypeError>()

/**
 * The plan of the request's route, as `onRoute` built it. A route declared before the plugin loaded
 * was never seen by `onRoute`: its plan is built on its first request (a mistake in it then answers
 * every request with a 500), and a warning says so once.
 */
export function routePlan(request: FastifyRequest): RoutePlan | TypeError {
  const config = routeConfig(request) as PlannedConfig
  const plan = config[kPlan]
  if (plan !== undefined) return plan
  // The not-found handler: authenticated like every other request, so routes cannot be enumerated.
  if (request.is404) return authenticatedOnly
  let late = latePlans.get(config)
  if (late === undefined) {
    const name = routeName(config.method, config.url)
    try {
      late = buildRoutePlan(config.zeroTrust, name)
    } catch (error) {
      late = error instanceof TypeError ? error : new TypeError(String(error))
    }
    latePlans.set(config, late)
    const mistake = late instanceof TypeError ? `; ${late.message}` : ''
    process.emitWarning(
      `zerotrust: route "${name}" was declared before @zerotrust/fastify loaded, so its "config.zeroTrust" ` +
        'was not checked at startup and a ZeroTrustError its handler throws is left to the error handler ' +
        `of its scope: await app.register(zeroTrust, ...) before declaring routes${mistake}`,
      'ZeroTrustWarning',
    )
  }
  return late
}
