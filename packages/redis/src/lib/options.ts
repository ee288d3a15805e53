import { type OptionsSchema, option, type Parsed, parseOptions } from '@zerotrust/core/layer'
import type { ChainableCommander, Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import type { Replication } from './replication.js'

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
  /**
   * Replicas of the key's primary that must acknowledge each claim (and each stored response) before the
   * store reports it: the write is followed by `WAIT <waitForReplicas> <replicaTimeout>` in the same
   * round trip, and a write fewer replicas acknowledged is answered 503 (`redis_not_replicated`), so a
   * failover cannot lose a claim the caller was told it holds. 0 (the default) does not wait. With it
   * set, a primary left without replicas refuses every claim until one is back.
   */
  readonly waitForReplicas?: number
  /**
   * Milliseconds `WAIT` may take; 100 by default. Less than `operationTimeout`: the deadline bounds the
   * whole round trip.
   */
  readonly replicaTimeout?: number
}

/** Options of `redisIdempotencyStore`: those of every store, and the share of the store one caller may hold. */
export interface RedisIdempotencyStoreOptions extends RedisStoreOptions {
  /**
   * As for every store (`zt:idem:` by default), without `{` or `}`: each caller's keys carry their own
   * Redis Cluster hash tag after it.
   */
  readonly prefix?: string
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
  /** Only with `waitForReplicas`: the write and its `WAIT` go in one pipeline. */
  pipeline(): ChainableCommander
}

/** The options after validation, frozen. */
export interface StoreSettings {
  readonly client: StoreClient
  readonly prefix: string
  readonly operationTimeout: number
  /** Undefined when the store does not wait for replicas. */
  readonly replication: Replication | undefined
}

/** The idempotency store's options after validation, frozen. */
export interface IdempotencyStoreSettings extends StoreSettings {
  readonly maxEntriesPerCaller: number
  readonly maxBytesPerCaller: number
  readonly minRetention: number
}

/** Default milliseconds before an operation rejects. */
const defaultOperationTimeout = 1000
/** Default milliseconds `WAIT` may take. */
const defaultReplicaTimeout = 100

// setTimeout's delay is a signed 32-bit integer: anything larger fires at once.
const maxTimeout = 2_147_483_647

const shape = {
  prefix: option.nonEmptyString().optional(),
  operationTimeout: option.milliseconds({ min: 1, max: maxTimeout }).optional(),
  // A Redis primary has a handful of replicas; more than 16 is a mistake, not a deployment.
  waitForReplicas: option.integer({ max: 16 }).optional(),
  replicaTimeout: option.milliseconds({ min: 1, max: maxTimeout }).optional(),
}

// WAIT within the deadline: a wait as long as the deadline would always be cut off by it. Checked only
// where the store waits, so a short operationTimeout alone stays valid.
function replicaTimeoutFits(
  options: {
    operationTimeout?: number | undefined
    waitForReplicas?: number | undefined
    replicaTimeout?: number | undefined
  },
  ctx: z.RefinementCtx,
): void {
  if ((options.waitForReplicas ?? 0) === 0) return
  const timeout = options.replicaTimeout ?? defaultReplicaTimeout
  const deadline = options.operationTimeout ?? defaultOperationTimeout
  if (timeout < deadline) return
  ctx.addIssue({
    code: 'custom',
    path: [options.replicaTimeout === undefined ? 'operationTimeout' : 'replicaTimeout'],
    message: `must leave "replicaTimeout" (${timeout}) less than "operationTimeout" (${deadline})`,
  })
}

const schema = z
  .strictObject(shape, { error: 'must be an object' })
  .superRefine(replicaTimeoutFits)
  .optional() satisfies OptionsSchema<RedisStoreOptions | undefined>

// Counts and sizes stay exact in Lua's doubles and in sorted-set scores.
const count = option.positiveInteger()
const idempotencySchema = z
  .strictObject(
    {
      ...shape,
      // Each caller's keys sit in "{<tag>}" after the prefix: a brace before it would move the hash tag
      // (every caller in one Cluster slot, or one call's keys across slots).
      prefix: option
        .nonEmptyString()
        .refine((prefix) => !prefix.includes('{') && !prefix.includes('}'), {
          error: 'must not contain "{" or "}" (each caller\'s keys carry their own hash tag)',
        })
        .optional(),
      maxEntriesPerCaller: count.optional(),
      maxBytesPerCaller: count.optional(),
      minRetention: option.milliseconds({ max: 30 * 24 * 3_600_000 }).optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine(replicaTimeoutFits)
  .optional() satisfies OptionsSchema<RedisIdempotencyStoreOptions | undefined>

/**
 * Checks the arguments of `redisReplayStore` once, at construction: the client must look like an
 * ioredis client, and the options must be valid.
 *
 * @throws TypeError naming the argument or option at fault
 */
export function redisReplayStoreSettings(client: unknown, options: unknown): StoreSettings {
  const checked = checkClient('redisReplayStore', client)
  return common(
    'redisReplayStore',
    checked,
    parseOptions('redisReplayStore', schema, options) ?? {},
    'zt:dpop:',
  )
}

/**
 * Checks the arguments of `redisIdempotencyStore` once, at construction: those of every store, and the
 * per-caller share.
 *
 * @throws TypeError naming the argument or option at fault
 */
export function redisIdempotencyStoreSettings(client: unknown, options: unknown): IdempotencyStoreSettings {
  const parsed = parseOptions('redisIdempotencyStore', idempotencySchema, options) ?? {}
  return Object.freeze({
    ...common('redisIdempotencyStore', checkClient('redisIdempotencyStore', client), parsed, 'zt:idem:'),
    maxEntriesPerCaller: parsed.maxEntriesPerCaller ?? 10_000,
    maxBytesPerCaller: parsed.maxBytesPerCaller ?? 64 * 1024 * 1024,
    minRetention: parsed.minRetention ?? 10 * 60_000,
  })
}

function checkClient(factory: string, client: unknown): StoreClient {
  if (!isStoreClient(client)) {
    throw new TypeError(`${factory}: "client" argument must be an ioredis Redis or Cluster client`)
  }
  return client
}

function common(
  factory: string,
  client: StoreClient,
  parsed: Parsed<RedisStoreOptions>,
  defaultPrefix: string,
): StoreSettings {
  const waitForReplicas = parsed.waitForReplicas ?? 0
  if (waitForReplicas > 0 && typeof (client as Partial<StoreClient>).pipeline !== 'function') {
    throw new TypeError(`${factory}: "client" argument must be an ioredis client that can pipeline`)
  }
  return Object.freeze({
    client,
    prefix: parsed.prefix ?? defaultPrefix,
    operationTimeout: parsed.operationTimeout ?? defaultOperationTimeout,
    replication:
      waitForReplicas === 0
        ? undefined
        : Object.freeze({ waitForReplicas, replicaTimeout: parsed.replicaTimeout ?? defaultReplicaTimeout }),
  })
}

// The stores call `pipeline` only to wait for replicas: a client without it is checked when it matters.
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
