export { failureLimit } from './failure-limit.js'
export type { Budget, FailureLimitOptions, RateLimitOptions, RateLimitRedisClient } from './lib/options.js'
export { type RateLimitAuthorizer, rateLimit } from './rate-limit.js'
export { type RatelimitReason, ratelimitReasons } from './reasons.js'
