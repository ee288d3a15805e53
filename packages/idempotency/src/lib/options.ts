import type { IdempotencyStore } from '@zerotrust/core'
import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'

/** Options of `idempotency`. */
export interface IdempotencyOptions {
  /** Where claims and stored responses live: `memoryIdempotencyStore()`, or `redisIdempotencyStore(redis)`. */
  readonly store: IdempotencyStore
  /** The methods that take a key; `['POST', 'PATCH']` by default. Other methods pass untouched. */
  readonly methods?: readonly string[]
  /** Whether a request without `Idempotency-Key` is refused (400); `false` by default (it runs, unprotected). */
  readonly required?: boolean
  /**
   * Whether requests without an authenticated caller may use keys; `false` by default, and such a
   * request then fails closed with a 500 (a misconfigured route). Anonymous keys are shared by every
   * anonymous caller of the route: only unguessable keys (UUIDs) keep their responses private.
   */
  readonly anonymous?: boolean
  /** Top-level JSON body members that make up the fingerprint; the whole body by default. */
  readonly fields?: readonly string[]
  /**
   * Milliseconds a claim holds its key without renewal, which is how long a crashed request keeps
   * retries out; 60 000 by default. While the handler runs, the lock is renewed every third of it (with
   * a store that has `extend`, as both shipped stores do), so a slower handler keeps its key. With a store
   * that cannot renew, a handler must finish within `lockTtl`, or a retry may run it a second time.
   */
  readonly lockTtl?: number
  /**
   * Milliseconds after the claim during which the lock is renewed at most; 15 minutes by default. A
   * handler that never answers, or a response its client stopped reading, then lets its key go
   * `lockTtl` after the last renewal (reported as `lock_hold_limit`), instead of holding it for ever.
   */
  readonly maxLockHold?: number
  /** Milliseconds a completed response is replayed; 24 hours by default. */
  readonly retention?: number
  /** Longest key, in characters once unescaped; 255 by default. */
  readonly maxKeyLength?: number
  /**
   * How clients may write the key. `'sf-string'` (default): an RFC 8941 quoted string,
   * `Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`, as the IETF draft says; a bare key is
   * refused (400 `key_not_quoted`, telling the client to quote it). `'lenient'`: a bare key of printable
   * ASCII without space, `"`, `\\`, `,` and `;` (a Stripe-style UUID) is accepted too, as the same key as
   * its quoted form, for clients that cannot be changed yet.
   */
  readonly keyFormat?: 'sf-string' | 'lenient'
  /** Largest response body stored, in bytes; 1 MiB by default. A larger one is sent but not stored. */
  readonly maxBodyBytes?: number
  /**
   * Response headers stored and replayed (lower case). By default `content-type`, `content-language`,
   * `content-location`, `location`, `etag`, `last-modified`, `cache-control`, `expires`. Never
   * `set-cookie` unless listed here. `content-encoding` and `vary` are stored and replayed whatever
   * this says: they describe the stored bytes, which a compression step may have encoded.
   */
  readonly replayHeaders?: readonly string[]
  /** Which statuses are stored; by default every status but 5xx, 408 and 429 (transient answers). */
  readonly storeResponse?: (status: number) => boolean
  /** Seconds sent in `Retry-After` with a 409; 1 by default, at most 3600. */
  readonly retryAfterSeconds?: number
  /** @deprecated The old name of `retryAfterSeconds`, still accepted. */
  readonly retryAfter?: number
  /**
   * Wait for a concurrent request with the same key to finish (and replay its response) for at most
   * `timeout` milliseconds, asking the store every `interval` (50 by default), instead of a 409 at once.
   */
  readonly wait?: { readonly timeout: number; readonly interval?: number }
  /**
   * What a store failure does: `fail` (default) answers 503 and runs nothing; `pass-through` runs the
   * handler without idempotency (a retry may then run twice) and reports it.
   */
  readonly onStoreError?: 'fail' | 'pass-through'
}

/** {@link IdempotencyOptions} after checking. */
export interface IdempotencySettings {
  readonly store: IdempotencyStore
  readonly methods: ReadonlySet<string>
  readonly required: boolean
  readonly anonymous: boolean
  readonly fields: readonly string[] | undefined
  readonly lockTtl: number
  readonly maxLockHold: number
  readonly retention: number
  readonly maxKeyLength: number
  readonly keyFormat: 'sf-string' | 'lenient'
  readonly maxBodyBytes: number
  readonly replayHeaders: ReadonlySet<string>
  readonly storeResponse: (status: number) => boolean
  readonly retryAfter: number
  readonly wait: { readonly timeout: number; readonly interval: number } | undefined
  readonly passThrough: boolean
}

/** The response headers replayed by default: describe the body, none that sets state in the client. */
export const defaultReplayHeaders = Object.freeze([
  'content-type',
  'content-language',
  'content-location',
  'location',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
])

// Framed by the server for each response, or ours: storing them would corrupt the replay.
const neverReplayed = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'trailer',
  'date',
  'idempotent-replayed',
])

const token = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i
const hour = 3_600_000

const isStore = (value: unknown): value is IdempotencyStore => {
  const store = value as Partial<IdempotencyStore> | null | undefined
  return (
    typeof store?.claim === 'function' &&
    typeof store.complete === 'function' &&
    typeof store.release === 'function' &&
    (store.extend === undefined || typeof store.extend === 'function')
  )
}

const retryAfter = option.seconds({ min: 1, max: 3600 })

const schema = z
  .strictObject(
    {
      store: z.custom<IdempotencyStore>(isStore, {
        error: 'must be an idempotency store, such as memoryIdempotencyStore()',
      }),
      methods: z
        .array(z.string().regex(token, { error: 'must be an array of method names' }), {
          error: 'must be an array of method names',
        })
        .min(1, { error: 'must name at least one method' })
        .optional(),
      required: option.boolean().optional(),
      anonymous: option.boolean().optional(),
      fields: z
        .array(z.string().min(1, { error: 'must be an array of member names' }), {
          error: 'must be an array of member names',
        })
        .min(1, { error: 'must name at least one member' })
        .optional(),
      lockTtl: option.milliseconds({ min: 1, max: 24 * hour }).optional(),
      maxLockHold: option.milliseconds({ min: 1, max: 30 * 24 * hour }).optional(),
      retention: option.milliseconds({ min: 1, max: 30 * 24 * hour }).optional(),
      maxKeyLength: option.positiveInteger(8192).optional(),
      keyFormat: z.enum(['sf-string', 'lenient'], { error: 'must be "sf-string" or "lenient"' }).optional(),
      maxBodyBytes: option.integer().optional(),
      replayHeaders: z
        .array(
          z
            .string()
            .regex(token, { error: 'must be an array of header names' })
            .refine((name) => !neverReplayed.has(name.toLowerCase()), {
              error:
                'must not list headers the server frames itself (content-length, transfer-encoding, date…)',
            }),
          { error: 'must be an array of header names' },
        )
        .optional(),
      storeResponse: option.callable<(status: number) => boolean>().optional(),
      retryAfterSeconds: retryAfter.optional(),
      retryAfter: retryAfter.optional(),
      wait: z
        .strictObject(
          {
            timeout: option.milliseconds({ min: 1, max: 10 * 60_000 }),
            interval: option.milliseconds({ min: 1, max: 60_000 }).optional(),
          },
          { error: 'must be an object with "timeout" in milliseconds' },
        )
        .optional(),
      onStoreError: z
        .enum(['fail', 'pass-through'], { error: 'must be "fail" or "pass-through"' })
        .optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine(
    option.renamed({ retryAfter: 'retryAfterSeconds' }),
  ) satisfies OptionsSchema<IdempotencyOptions>

/**
 * Checks the options of `idempotency()` once, at construction.
 *
 * @throws TypeError naming the option
 */
export function idempotencySettings(options: IdempotencyOptions): IdempotencySettings {
  const parsed = parseOptions('idempotency', schema, options)
  return Object.freeze({
    store: parsed.store,
    methods: new Set((parsed.methods ?? ['POST', 'PATCH']).map((method) => method.toUpperCase())),
    required: parsed.required ?? false,
    anonymous: parsed.anonymous ?? false,
    fields: parsed.fields === undefined ? undefined : Object.freeze([...parsed.fields]),
    lockTtl: parsed.lockTtl ?? 60_000,
    maxLockHold: parsed.maxLockHold ?? 15 * 60_000,
    retention: parsed.retention ?? 24 * hour,
    maxKeyLength: parsed.maxKeyLength ?? 255,
    keyFormat: parsed.keyFormat ?? 'sf-string',
    maxBodyBytes: parsed.maxBodyBytes ?? 1024 * 1024,
    replayHeaders: new Set((parsed.replayHeaders ?? defaultReplayHeaders).map((name) => name.toLowerCase())),
    storeResponse: parsed.storeResponse ?? storedByDefault,
    retryAfter: parsed.retryAfterSeconds ?? parsed.retryAfter ?? 1,
    wait:
      parsed.wait === undefined
        ? undefined
        : Object.freeze({ timeout: parsed.wait.timeout, interval: parsed.wait.interval ?? 50 }),
    passThrough: parsed.onStoreError === 'pass-through',
  })
}

/** Every status but 5xx (our failure: the retry must run), 408 and 429 (try again later answers). */
function storedByDefault(status: number): boolean {
  return status < 500 && status !== 408 && status !== 429
}
