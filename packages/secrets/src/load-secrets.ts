import { parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'
import { type ObjectSchema, SecretSet } from './lib/secret-set.js'
import type { SecretSource } from './lib/source.js'
import type { Secret } from './secret.js'

/** Options of {@link loadSecrets}. */
export interface LoadSecretsOptions<S extends z.ZodObject> {
  /** A zod object schema: secret names to their types (`z.string().min(32)`, `z.coerce.number()`…). */
  readonly schema: S
  /** Where secrets come from, in order of precedence: the first source that has a name wins. */
  readonly sources: readonly SecretSource[]
  /**
   * Milliseconds a value keeps serving after its source last answered, while the source fails;
   * `current()` throws after that. 900 000 (15 minutes) by default.
   */
  readonly maxStaleness?: number
  /** Whether sources watch for changes (file watchers, Vault schedules); `true` by default. */
  readonly watch?: boolean
  /**
   * Receives background failures (a source down, a rotated value that fails the schema or makes it
   * throw, a renewal refused). They never carry a value, in their message or a `cause`. A sink that
   * throws or rejects is ignored. By default they become process warnings.
   */
  readonly onError?: (error: Error) => void
}

/** The control surface of a {@link Secrets} set, beside one {@link Secret} per name. */
export interface SecretsControl<T extends Record<string, unknown>> {
  /** The secret called `name`; the same object as the property of that name. */
  get<K extends keyof T & string>(name: K): Secret<T[K]>
  /**
   * Calls `listener` after `name` changes, with the secret (read it with `current()`); returns a function
   * that removes the listener. A listener that throws or rejects is reported to `onError` by its error's
   * name or code only, since its message may quote the value.
   */
  onRotate<K extends keyof T & string>(
    name: K,
    listener: (secret: Secret<T[K]>) => void | PromiseLike<void>,
  ): () => void
  /**
   * Re-reads every source now, for a caller that just saw its credentials refused. Concurrent calls share
   * one read. Rejects with the first source failure (the last good values keep serving).
   */
  forceRefresh(): Promise<void>
  /** Stops every watcher and timer. Values stay readable. */
  close(): Promise<void>
}

/** Loaded secrets: one {@link Secret} per schema key, typed from the schema, and their controls. */
export type Secrets<T extends Record<string, unknown>> = {
  readonly [K in SecretName<T>]: Secret<T[K]>
} & SecretsControl<T>

/** The secret names of a value type (a separate alias so optional keys still map to a `Secret`). */
export type SecretName<T> = Extract<keyof T, string>

const reserved = new Set(['get', 'onRotate', 'forceRefresh', 'close', 'then'])

const isObjectSchema = (value: unknown): value is ObjectSchema =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { safeParse?: unknown }).safeParse === 'function' &&
  typeof (value as { shape?: unknown }).shape === 'object' &&
  (value as { shape?: unknown }).shape !== null

const isSource = (value: unknown): value is SecretSource =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { read?: unknown }).read === 'function' &&
  typeof (value as { label?: unknown }).label === 'string'

const schema = z.strictObject({
  schema: z
    .custom<ObjectSchema>(isObjectSchema, { error: 'must be a zod object schema' })
    .refine((s) => Object.keys(s.shape).length > 0, { error: 'must name at least one secret' })
    .refine((s) => !Object.keys(s.shape).some((name) => reserved.has(name)), {
      error: 'cannot name a secret "get", "onRotate", "forceRefresh", "close" or "then"',
    }),
  sources: z
    .array(z.custom<SecretSource>(isSource, { error: 'must only contain sources' }), {
      error: 'must be a non-empty array of sources',
    })
    .min(1, { error: 'must be a non-empty array of sources' }),
  maxStaleness: z
    .number({ error: 'must be a non-negative integer number of milliseconds' })
    .int({ error: 'must be a non-negative integer number of milliseconds' })
    .nonnegative({ error: 'must be a non-negative integer number of milliseconds' })
    .optional(),
  watch: z.boolean({ error: 'must be a boolean' }).optional(),
  onError: z
    .custom<(error: Error) => void>((v) => typeof v === 'function', { error: 'must be a function' })
    .optional(),
})

const warn = (error: Error) => process.emitWarning(error.message, { code: 'ZEROTRUST_SECRETS' })

/**
 * Loads the secrets a schema describes from the given sources, validates them once, and keeps them
 * current: watched files, scheduled Vault reads, renewed tokens. Fails with one
 * {@link SecretsLoadError} that lists every missing or invalid secret and failed source, never a value.
 *
 * Read a value where it is used, each time (`secrets.DB_PASSWORD.current()`): a property read that
 * returns the rotated value as soon as it is loaded.
 *
 * @example
 * const secrets = await loadSecrets({
 *   schema: z.object({ DB_PASSWORD: z.string().min(16), PORT: z.coerce.number().optional() }),
 *   sources: [files({ directory: '/var/run/secrets/app' }), env()],
 * })
 * connect({ password: secrets.DB_PASSWORD.current() })
 * secrets.onRotate('DB_PASSWORD', () => pool.drain())
 */
export async function loadSecrets<S extends z.ZodObject>(
  options: LoadSecretsOptions<S>,
): Promise<Secrets<z.output<S>>> {
  const o = parseOptions('loadSecrets', schema, options)
  const set = await SecretSet.load({
    schema: o.schema,
    names: Object.keys(o.schema.shape),
    sources: o.sources,
    maxStaleness: o.maxStaleness ?? 900_000,
    watch: o.watch ?? true,
    report: (o.onError as ((error: Error) => void) | undefined) ?? warn,
  })
  const result: Record<string, unknown> = {}
  for (const [name, secret] of set.secrets) {
    Object.defineProperty(result, name, { value: secret, enumerable: true })
  }
  // Controls are not enumerable: `JSON.stringify(secrets)` and spreading give only redacted secrets.
  const known = (name: string, method: string): string => {
    if (!set.secrets.has(name)) throw new TypeError(`${method}: "${name}" is not a secret of the schema`)
    return name
  }
  const controls = {
    get: (name: string) => set.secrets.get(known(name, 'get')),
    onRotate: (name: string, listener: (secret: Secret<unknown>) => void) => {
      if (typeof listener !== 'function') throw new TypeError('onRotate: the listener must be a function')
      return set.onRotate(known(name, 'onRotate'), listener)
    },
    forceRefresh: () => set.forceRefresh(),
    close: () => set.close(),
  }
  for (const [name, value] of Object.entries(controls)) Object.defineProperty(result, name, { value })
  return Object.freeze(result) as Secrets<z.output<S>>
}
