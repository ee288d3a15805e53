export type { RedisClient, RedisIdempotencyStoreOptions, RedisStoreOptions } from './lib/options.js'
export { redisIdempotencyStore } from './redis-idempotency-store.js'
export { redisReplayStore } from './redis-replay-store.js'
