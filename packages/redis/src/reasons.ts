/**
 * The `reason`s of the Redis stores' errors. docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'redis_timeout') metrics.redisSlow.inc()
 */
export const redisReasons = Object.freeze([
  'redis_error',
  'redis_timeout',
  'redis_corrupt_record',
  'redis_not_replicated',
  'caller_quota',
] as const)

/** One of {@link redisReasons}. */
export type RedisReason = (typeof redisReasons)[number]
