import { type Auth, type Authorizer, type Decision, type RequestLike, ZeroTrustError } from '@zerotrust/core'
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible'
import { policyField, rateLimitField, rateLimitHeaders, resetSeconds } from './lib/headers.js'
import { boundedKey, identityKey, peerKey } from './lib/keys.js'
import { type BudgetSettings, type RateLimitOptions, rateLimitSettings } from './lib/options.js'
import { withTimeout } from './lib/timeout.js'

/** The authorizer `rateLimit()` returns. */
export interface RateLimitAuthorizer extends Authorizer {
  /** `ratelimit`. */
  readonly layer: 'ratelimit'
}

interface Limited {
  readonly budget: BudgetSettings
  readonly limiter: RateLimiterAbstract
  /** The decision details naming the budget, built once. */
  readonly policies: readonly string[]
  /** Its `RateLimit-Policy` value, built once. */
  readonly policy: string
}

/**
 * Limits how many requests each identity makes: an authorizer that runs after authentication and
 * counts every request against the first budget that applies to it, keyed by who `Auth` says sent it
 * (subject within its issuer, else client, else workload; OWASP API4:2023), never by a header the client
 * chooses. Over budget: 429 `rate_limited` with `Retry-After` and the IETF `RateLimit-Policy` and
 * `RateLimit` fields; allowed requests carry the same fields with what remains (unless `headers` is
 * `denied`). Counts live in memory, or on the application's Redis so every replica shares them.
 *
 * @example
 * const limits = rateLimit({
 *   budgets: [
 *     { name: 'writes', route: 'POST /orders', limit: 10, windowSeconds: 60 },
 *     { name: 'default', limit: 300, windowSeconds: 60 },
 *   ],
 *   redis,
 * })
 * app.post('/orders', authorize(limits), authorize(requireScopes('orders:write')), createOrder)
 * @throws TypeError naming the option when an option is invalid
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
export function rateLimit(options: RateLimitOptions): RateLimitAuthorizer {
  const o = rateLimitSettings(options)
  const limited: readonly Limited[] = o.budgets.map((budget) => ({
    budget,
    policies: Object.freeze([budget.name]),
    policy: policyField(budget.name, budget.limit, budget.windowSeconds),
    limiter:
      o.redis === undefined
        ? new RateLimiterMemory({
            points: budget.limit,
            duration: budget.windowSeconds,
            keyPrefix: budget.name,
          })
        : new RateLimiterRedis({
            storeClient: o.redis,
            points: budget.limit,
            duration: budget.windowSeconds,
            keyPrefix: `${o.prefix}${budget.name}`,
            // A disconnected client fails at once rather than queueing the count.
            rejectIfRedisNotReady: true,
            // A key over its budget is refused from memory until its window ends: a flood from one
            // identity costs Redis one command per replica and window, not one per request.
            inMemoryBlockOnConsumed: budget.limit + 1,
          }),
  }))
  const timeout = o.redis === undefined ? undefined : o.operationTimeout
  const headersOnAllow = o.headers === 'all'

  const keyOf = (req: RequestLike, auth: Auth): string => {
    const key = o.key === undefined ? identityKey(auth) : o.key(req, auth)
    if (typeof key === 'string' && key.length > 0) return boundedKey(key)
    // Anonymous: a fallback of our configuration, never a value the client chose.
    return (o.anonymous === 'peer' ? peerKey(req.remoteAddress) : undefined) ?? 'anonymous'
  }

  return Object.freeze({
    layer: 'ratelimit' as const,
    async authorize(req: RequestLike, auth: Auth): Promise<Decision> {
      const entry = limited.find(({ budget }) => applies(budget, req, auth))
      if (entry === undefined) return allowed
      const { budget, limiter, policies } = entry
      let counted: RateLimiterRes
      try {
        const consumed = limiter.consume(keyOf(req, auth), 1)
        counted = await (timeout === undefined ? consumed : withTimeout(consumed, timeout))
      } catch (thrown) {
        if (thrown instanceof RateLimiterRes) {
          const seconds = resetSeconds(thrown.msBeforeNext)
          const error = new ZeroTrustError('rate_limited', 'the caller spent its request budget', {
            reason: 'budget_exhausted',
            retryAfter: seconds,
            headers: rateLimitHeaders(budget.name, budget.limit, budget.windowSeconds, 0, seconds),
          })
          return { allowed: false, error, policies }
        }
        if (o.onStoreFailure === 'allow') {
          return { allowed: true, policies, diagnostics: ['rate_limit_store_unavailable'] }
        }
        const error = new ZeroTrustError('dependency_unavailable', 'the rate limit store is unavailable', {
          reason: 'rate_limit_store_unavailable',
          cause: thrown,
        })
        return { allowed: false, error, policies }
      }
      if (!headersOnAllow) return { allowed: true, policies }
      // draft-ietf-httpapi-ratelimit-headers: the quota left and when it resets, before the client hits it.
      const responseHeaders = {
        'RateLimit-Policy': entry.policy,
        RateLimit: rateLimitField(budget.name, counted.remainingPoints, resetSeconds(counted.msBeforeNext)),
      }
      return { allowed: true, policies, responseHeaders }
    },
  })
}

const allowed: Decision = Object.freeze({ allowed: true })

function applies(budget: BudgetSettings, req: RequestLike, auth: Auth): boolean {
  if (budget.method !== undefined && budget.method !== req.method) return false
  if (budget.route !== undefined && budget.route !== (req.route ?? req.path)) return false
  if (budget.scope !== undefined && !auth.scopes.includes(budget.scope)) return false
  return true
}
