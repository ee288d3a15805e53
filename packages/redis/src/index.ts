export type { RedisClient, RedisIdempotencyStoreOptions, RedisStoreOptions } from './lib/options.js'
export { type RedisReason, redisReasons } from './reasons.js'
export { redisIdempotencyStore } from './redis-idempotency-store.js'
export { redisReplayStore } from './redis-replay-store.js'
