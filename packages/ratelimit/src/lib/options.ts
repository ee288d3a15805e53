import type { Auth, RequestLike } from '@zerotrust/core'
import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'

/** An ioredis client, the one an application already passes to `@zerotrust/redis`; never closed here. */
export type RateLimitRedisClient = Redis | Redis<'resp3'> | Cluster | Cluster<'resp3'>

/**
 * One budget: `limit` requests per window of `windowSeconds`, for each identity, on the requests it
 * applies to. A budget with neither `route` nor `scope` applies to every request.
 */
export interface Budget {
  /**
   * The policy name, sent in `RateLimit-Policy` and `RateLimit` and reported in decision events
   * (`policies`); letters, digits and `_ . : -`, at most 64. Each budget counts on its own.
   */
  readonly name: string
  /** Requests one identity may make per window (the policy's quota `q`). */
  readonly limit: number
  /** The window, in whole seconds (the policy's `w`); a fixed window (see the README). */
  readonly windowSeconds: number
  /**
   * The route the budget applies to: a route pattern as the framework names it (`/orders/:id`),
   * optionally after a method (`POST /orders`). Matched against the matched route where the adapter
   * knows it (route-level `authorize`), else against the request path.
   */
  readonly route?: string
  /** The budget applies to callers whose token grants this scope (a tier: `plan:gold`). */
  readonly scope?: string
}

/** Options of `rateLimit`. */
export interface RateLimitOptions {
  /**
   * The budgets, in order: a request counts against the first one that applies to it, and one that
   * none applies to is not limited. At least one.
   */
  readonly budgets: readonly Budget[]
  /**
   * Who a budget belongs to. By default the identity `Auth` proves: the subject within its issuer, else
   * the client, else the workload. A function picks another (a tenant claim); returning `undefined`
   * makes the request anonymous.
   */
  readonly key?: (req: RequestLike, auth: Auth) => string | undefined
  /**
   * The key of a request without an identity: `shared` (the default) puts every anonymous request in
   * one budget; `peer` gives each peer address its own (the socket's, IPv6 by /64; never a header).
   */
  readonly anonymous?: 'shared' | 'peer'
  /** Counts on this Redis (every replica shares the budgets) rather than in this process's memory. */
  readonly redis?: RateLimitRedisClient
  /** Prepended to every Redis key; `zt:rl:` by default. */
  readonly prefix?: string
  /** Milliseconds a Redis count may take before it counts as a store failure; 1000 by default. */
  readonly operationTimeout?: number
  /**
   * When the store fails: `reject` (the default) answers 503 `dependency_unavailable`; `allow` lets the
   * request through. Either way the decision event reports `rate_limit_store_unavailable`.
   */
  readonly onStoreFailure?: 'reject' | 'allow'
  /**
   * Which answers carry the `RateLimit-Policy` and `RateLimit` fields: `all` (the default) sends them on
   * every request a budget applies to, so clients slow down before they are refused; `denied` only on
   * 429s, sparing two headers per allowed response.
   */
  readonly headers?: 'all' | 'denied'
}

const policyName = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/
const routePattern = /^(?:(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) )?\/\S{0,1023}$/

const budgetSchema = z.strictObject(
  {
    name: z.string({ error: 'must be a string' }).regex(policyName, {
      error: 'must be letters, digits and "_.:-", at most 64',
    }),
    limit: option.positiveInteger(1_000_000_000),
    windowSeconds: option.seconds({ min: 1, max: 86_400 * 31 }),
    route: z
      .string({ error: 'must be a string' })
      .regex(routePattern, { error: 'must be a route pattern such as "/orders/:id" or "POST /orders"' })
      .optional(),
    scope: option.nonEmptyString().optional(),
  },
  { error: 'must be an object' },
) satisfies OptionsSchema<Budget>

const redisClient = z.custom<RateLimitRedisClient>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { defineCommand?: unknown }).defineCommand === 'function',
  { error: 'must be an ioredis client' },
)
const prefix = z.string({ error: 'must be a string' }).max(256, { error: 'must be at most 256 characters' })
const operationTimeout = option.milliseconds({ min: 1, max: 60_000 })

const schema = z.strictObject(
  {
    budgets: z
      .array(budgetSchema, { error: 'must be an array of budgets' })
      .min(1, { error: 'must not be empty' })
      .max(1000, { error: 'must hold at most 1000 budgets' })
      .refine((budgets) => new Set(budgets.map((b) => b.name)).size === budgets.length, {
        error: 'must name each budget once',
      }),
    key: option.callable<(req: RequestLike, auth: Auth) => string | undefined>().optional(),
    anonymous: z.enum(['shared', 'peer'], { error: 'must be "shared" or "peer"' }).optional(),
    redis: redisClient.optional(),
    prefix: prefix.optional(),
    operationTimeout: operationTimeout.optional(),
    onStoreFailure: z.enum(['reject', 'allow'], { error: 'must be "reject" or "allow"' }).optional(),
    headers: z.enum(['all', 'denied'], { error: 'must be "all" or "denied"' }).optional(),
  },
  { error: 'must be an object' },
) satisfies OptionsSchema<RateLimitOptions>

/** A budget after checking, with its route split into method and pattern. */
export interface BudgetSettings {
  readonly name: string
  readonly limit: number
  readonly windowSeconds: number
  readonly method: string | undefined
  readonly route: string | undefined
  readonly scope: string | undefined
}

/** {@link RateLimitOptions} after checking. */
export interface RateLimitSettings {
  readonly budgets: readonly BudgetSettings[]
  readonly key: ((req: RequestLike, auth: Auth) => string | undefined) | undefined
  readonly anonymous: 'shared' | 'peer'
  readonly redis: RateLimitRedisClient | undefined
  readonly prefix: string
  readonly operationTimeout: number
  readonly onStoreFailure: 'reject' | 'allow'
  readonly headers: 'all' | 'denied'
}

/**
 * Checks `rateLimit`'s options once.
 *
 * @throws TypeError naming the option, as `rateLimit: "budgets.0.limit" option must be a positive integer…`
 */
export function rateLimitSettings(input: unknown): RateLimitSettings {
  const o = parseOptions('rateLimit', schema, input)
  return Object.freeze({
    budgets: Object.freeze(
      o.budgets.map((budget) => {
        const space = budget.route?.indexOf(' ') ?? -1
        return Object.freeze({
          name: budget.name,
          limit: budget.limit,
          windowSeconds: budget.windowSeconds,
          method: space === -1 ? undefined : budget.route?.slice(0, space),
          route: space === -1 ? budget.route : budget.route?.slice(space + 1),
          scope: budget.scope,
        })
      }),
    ),
    key: o.key,
    anonymous: o.anonymous ?? 'shared',
    redis: o.redis,
    prefix: o.prefix ?? 'zt:rl:',
    operationTimeout: o.operationTimeout ?? 1000,
    onStoreFailure: o.onStoreFailure ?? 'reject',
    headers: o.headers ?? 'all',
  })
}

/** Options of `failureLimit`. */
export interface FailureLimitOptions {
  /** Refusals one peer may earn per window before it is refused without a check; 20 by default. */
  readonly failures?: number
  /** The window, in whole seconds; 60 by default. */
  readonly windowSeconds?: number
  /**
   * Peers counted at once in this process; 100 000 by default. Past it the oldest count is forgotten, so
   * the memory stays bounded whatever the number of addresses.
   */
  readonly maxPeers?: number
  /**
   * Counts on this Redis, so every replica shares a peer's count, rather than in this process alone. The
   * same client as `rateLimit`'s; never connected or closed here.
   */
  readonly redis?: RateLimitRedisClient
  /** Prepended to every Redis key (then `#auth-failures`); `zt:rl:` by default. */
  readonly prefix?: string
  /**
   * Milliseconds a Redis count may take before the failure is counted in this process instead; 1000 by
   * default.
   */
  readonly operationTimeout?: number
}

const failureSchema = z.strictObject(
  {
    failures: option.positiveInteger(1_000_000).optional(),
    windowSeconds: option.seconds({ min: 1, max: 86_400 }).optional(),
    maxPeers: option.positiveInteger(10_000_000).optional(),
    redis: redisClient.optional(),
    prefix: prefix.optional(),
    operationTimeout: operationTimeout.optional(),
  },
  { error: 'must be an object' },
) satisfies OptionsSchema<FailureLimitOptions>

/** {@link FailureLimitOptions} after checking. */
export interface FailureLimitSettings {
  readonly failures: number
  readonly windowSeconds: number
  readonly maxPeers: number
  readonly redis: RateLimitRedisClient | undefined
  readonly prefix: string
  readonly operationTimeout: number
}

/**
 * Checks `failureLimit`'s options once.
 *
 * @throws TypeError naming the option
 */
export function failureLimitSettings(input: unknown): FailureLimitSettings {
  const o = parseOptions('failureLimit', failureSchema, input)
  return Object.freeze({
    failures: o.failures ?? 20,
    windowSeconds: o.windowSeconds ?? 60,
    maxPeers: o.maxPeers ?? 100_000,
    redis: o.redis,
    prefix: o.prefix ?? 'zt:rl:',
    operationTimeout: o.operationTimeout ?? 1000,
  })
}
