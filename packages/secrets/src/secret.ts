const inspectCustom = Symbol.for('nodejs.util.inspect.custom')

/** A secret's state, shared between a {@link Secret} and the set that refreshes it. */
export interface SecretState<T> {
  value: T
  /** Set once the value is older than `maxStaleness` and its source still fails; `current()` throws it. */
  error: Error | undefined
}

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

  /** @internal Secrets are made by `loadSecrets`. */
  constructor(name: string, state: SecretState<T>) {
    this.name = name
    this.#state = state
    Object.freeze(this)
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
