import { parseOptions } from '@zerotrust/core'
import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'

/**
 * An ioredis client: a `Redis` connection or a `Cluster`, with either reply mapping. The store never
 * connects, quits or configures it.
 */
export type RedisClient = Redis | Redis<'resp3'> | Cluster | Cluster<'resp3'>

/** Options of `redisReplayStore` and `redisIdempotencyStore`. */
export interface RedisStoreOptions {
  /**
   * Prepended to every key the store writes, to keep it apart from other data in the same database;
   * `zt:dpop:` for the replay store and `zt:idem:` for the idempotency store by default.
   */
  readonly prefix?: string
  /**
   * Milliseconds one store operation may take before it rejects (and the caller answers 503), whatever
   * the client's own retry and offline-queue settings; 1000 by default.
   */
  readonly operationTimeout?: number
}

/** The commands the stores send, as the ioredis `Redis` and `Cluster` classes both declare them. */
export interface StoreClient {
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>
  setBuffer(key: string, value: Buffer, px: 'PX', ms: number, nx: 'NX', get: 'GET'): Promise<Buffer | null>
  eval(script: string, numkeys: 1, key: string, ...args: (string | Buffer | number)[]): Promise<unknown>
}

/** The options after validation, frozen. */
export interface StoreSettings {
  readonly client: StoreClient
  readonly prefix: string
  readonly operationTimeout: number
}

/** Default milliseconds before an operation rejects. */
export const defaultOperationTimeout = 1000

// setTimeout's delay is a signed 32-bit integer: anything larger fires at once.
const maxTimeout = 2_147_483_647
const nonEmpty = 'must be a non-empty string'
const timeout = `must be a positive integer of milliseconds, at most ${maxTimeout}`

const schema = z
  .strictObject(
    {
      prefix: z.string({ error: nonEmpty }).min(1, { error: nonEmpty }).optional(),
      operationTimeout: z
        .number({ error: timeout })
        .int({ error: timeout })
        .positive({ error: timeout })
        .max(maxTimeout, { error: timeout })
        .optional(),
    },
    { error: 'must be an object' },
  )
  .optional()

/**
 * Checks a store factory's arguments once, at construction: the client must look like an ioredis
 * client, and the options must be valid.
 *
 * @throws TypeError naming the argument or option at fault
 */
export function storeSettings(
  factory: string,
  client: unknown,
  options: unknown,
  defaultPrefix: string,
): StoreSettings {
  if (!isStoreClient(client)) {
    throw new TypeError(`${factory}: "client" argument must be an ioredis Redis or Cluster client`)
  }
  const parsed = parseOptions(factory, schema, options) ?? {}
  return Object.freeze({
    client,
    prefix: parsed.prefix ?? defaultPrefix,
    operationTimeout: parsed.operationTimeout ?? defaultOperationTimeout,
  })
}

function isStoreClient(value: unknown): value is StoreClient {
  if (typeof value !== 'object' || value === null) return false
  const client = value as Record<string, unknown>
  return (
    typeof client.set === 'function' &&
    typeof client.setBuffer === 'function' &&
    typeof client.eval === 'function'
  )
}
