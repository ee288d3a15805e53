export type { RedisClient, RedisStoreOptions } from './lib/options.js'
export { redisIdempotencyStore } from './redis-idempotency-store.js'
export { redisReplayStore } from './redis-replay-store.js'
