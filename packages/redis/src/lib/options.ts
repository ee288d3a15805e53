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

/** Options of `redisIdempotencyStore`: those of every store, and the share of the store one caller may hold. */
export interface RedisIdempotencyStoreOptions extends RedisStoreOptions {
  /**
   * Most keys one caller holds, in flight and completed together; 10 000 by default. A caller at its
   * share first makes room from its own responses older than `minRetention`; when none may go, its new
   * claims are refused (the layer answers 429 with `Retry-After`) and other callers are not touched.
   */
  readonly maxEntriesPerCaller?: number
  /**
   * Most bytes of stored responses one caller holds; 64 MiB by default. At it, the caller's new claims
   * are refused (429), and a response that would take it past the share is not stored.
   */
  readonly maxBytesPerCaller?: number
  /**
   * Milliseconds a completed response is safe from being evicted to make room in its caller's share;
   * 10 minutes by default. Older ones go, oldest first, only when their caller needs the room.
   */
  readonly minRetention?: number
}

/** The commands the stores send, as the ioredis `Redis` and `Cluster` classes both declare them. */
export interface StoreClient {
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>
  setBuffer(key: string, value: Buffer, px: 'PX', ms: number, nx: 'NX', get: 'GET'): Promise<Buffer | null>
  eval(script: string, numkeys: 1, key: string, ...args: (string | Buffer | number)[]): Promise<unknown>
  evalBuffer(
    script: string,
    numkeys: 3,
    record: string,
    entries: string,
    sizes: string,
    ...args: (string | Buffer | number)[]
  ): Promise<unknown>
}

/** The options after validation, frozen. */
export interface StoreSettings {
  readonly client: StoreClient
  readonly prefix: string
  readonly operationTimeout: number
}

/** The idempotency store's options after validation, frozen. */
export interface IdempotencyStoreSettings extends StoreSettings {
  readonly maxEntriesPerCaller: number
  readonly maxBytesPerCaller: number
  readonly minRetention: number
}

/** Default milliseconds before an operation rejects. */
export const defaultOperationTimeout = 1000

// setTimeout's delay is a signed 32-bit integer: anything larger fires at once.
const maxTimeout = 2_147_483_647
const nonEmpty = 'must be a non-empty string'
const timeout = `must be a positive integer of milliseconds, at most ${maxTimeout}`

const shape = {
  prefix: z.string({ error: nonEmpty }).min(1, { error: nonEmpty }).optional(),
  operationTimeout: z
    .number({ error: timeout })
    .int({ error: timeout })
    .positive({ error: timeout })
    .max(maxTimeout, { error: timeout })
    .optional(),
}
const schema = z.strictObject(shape, { error: 'must be an object' }).optional()

// Counts and sizes stay exact in Lua's doubles and in sorted-set scores.
const positive = 'must be a positive integer'
const count = z
  .number({ error: positive })
  .int({ error: positive })
  .positive({ error: positive })
  .max(Number.MAX_SAFE_INTEGER, { error: positive })
const idempotencySchema = z
  .strictObject(
    {
      ...shape,
      maxEntriesPerCaller: count.optional(),
      maxBytesPerCaller: count.optional(),
      minRetention: z
        .number({ error: 'must be a non-negative integer of milliseconds' })
        .int({ error: 'must be a non-negative integer of milliseconds' })
        .min(0, { error: 'must be a non-negative integer of milliseconds' })
        .max(30 * 24 * 3_600_000, { error: 'must be at most 30 days' })
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

/**
 * Checks the arguments of `redisIdempotencyStore` once, at construction: those of every store, and the
 * per-caller share.
 *
 * @throws TypeError naming the argument or option at fault
 */
export function idempotencyStoreSettings(
  factory: string,
  client: unknown,
  options: unknown,
  defaultPrefix: string,
): IdempotencyStoreSettings {
  const parsed = parseOptions(factory, idempotencySchema, options) ?? {}
  const { prefix, operationTimeout } = parsed
  const common = storeSettings(factory, client, { prefix, operationTimeout }, defaultPrefix)
  return Object.freeze({
    ...common,
    maxEntriesPerCaller: parsed.maxEntriesPerCaller ?? 10_000,
    maxBytesPerCaller: parsed.maxBytesPerCaller ?? 64 * 1024 * 1024,
    minRetention: parsed.minRetention ?? 10 * 60_000,
  })
}

function isStoreClient(value: unknown): value is StoreClient {
  if (typeof value !== 'object' || value === null) return false
  const client = value as Record<string, unknown>
  return (
    typeof client.set === 'function' &&
    typeof client.setBuffer === 'function' &&
    typeof client.eval === 'function' &&
    typeof client.evalBuffer === 'function'
  )
}
