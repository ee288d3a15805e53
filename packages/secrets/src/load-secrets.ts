import type { z } from 'zod'
import { type LoadSecretsOptions, loadSecretsSettings } from './lib/options.js'
import { SecretSet } from './lib/secret-set.js'
import type { Secret } from './secret.js'

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
  const set = await SecretSet.load(loadSecretsSettings(options))
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
