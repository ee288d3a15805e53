const inspectCustom = Symbol.for('nodejs.util.inspect.custom')

/** A secret's state, shared between a {@link Secret} and the set that refreshes it. */
export interface SecretState<T> {
  value: T
  /** Set once the value is older than `maxStaleness` and its source still fails; `current()` throws it. */
  error: Error | undefined
}

/** A listener of a secret's rotation, given the secret (read the new value with `current()`). */
export type RotationListener<T> = (secret: Secret<T>) => void | PromiseLike<void>

/**
 * One secret value, wrapped so that it never prints: `String(secret)`, `JSON.stringify`, template
 * literals and `util.inspect` (so `console.log` and most loggers) all give `[secret NAME]`.
 *
 * Read the value with {@link Secret.current} where it is used, on every use: it is a property read, and
 * it returns the rotated value as soon as the source changes.
 *
 * @example
 * const password = secrets.DB_PASSWORD.current()
 */
export class Secret<T> {
  /** The secret's name in the schema. */
  readonly name: string
  readonly #state: SecretState<T>
  readonly #subscribe: (listener: RotationListener<T>) => () => void

  /** @internal Secrets are made by `loadSecrets`. */
  constructor(name: string, state: SecretState<T>, subscribe: (listener: RotationListener<T>) => () => void) {
    this.name = name
    this.#state = state
    this.#subscribe = subscribe
    Object.freeze(this)
  }

  /**
   * Calls `listener` after this secret changes, as `secrets.onRotate(name, listener)` does; returns a
   * function that removes it. For code that is handed one secret, such as a connection pool.
   */
  onRotate(listener: RotationListener<T>): () => void {
    if (typeof listener !== 'function') throw new TypeError('onRotate: the listener must be a function')
    return this.#subscribe(listener)
  }

  /**
   * The current value. Throws the staleness error when the source has failed for longer than
   * `maxStaleness`.
   */
  current(): T {
    const state = this.#state
    if (state.error !== undefined) throw state.error
    return state.value
  }

  /** The current value: the same as {@link Secret.current}, named for code review. */
  reveal(): T {
    return this.current()
  }

  /** A redaction: `[secret NAME]`. */
  toString(): string {
    return `[secret ${this.name}]`
  }

  /** A redaction, so `JSON.stringify` never serializes the value. */
  toJSON(): string {
    return this.toString()
  }

  /** A redaction for `util.inspect` and `console.log`. */
  [inspectCustom](): string {
    return this.toString()
  }

  /** A redaction for template literals and `+`. */
  [Symbol.toPrimitive](): string {
    return this.toString()
  }
}
