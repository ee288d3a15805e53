/** One secret that failed validation: its name and the zod issue code, never its value. */
export interface InvalidSecret {
  readonly name: string
  /**
   * The zod issue code (`too_small`, `invalid_type`…), with a bound where zod gives one, or `exception`
   * when the schema threw (a `.transform()` or `.refine()` raised; the exception is dropped). The name
   * is `(schema)` for a problem of the object as a whole.
   */
  readonly problem: string
}

/** One source that failed while loading: its label and a message written by this package. */
export interface SourceFailure {
  readonly source: string
  readonly message: string
}

/** What {@link SecretsLoadError} reports. */
export interface SecretsLoadErrorDetails {
  readonly missing: readonly string[]
  readonly invalid: readonly InvalidSecret[]
  readonly failed: readonly SourceFailure[]
  readonly sources: readonly string[]
}

/**
 * Startup failed: every required secret that no source had, every secret that failed validation and
 * every source that failed, in one error. It names secrets and sources, never a value.
 *
 * @example
 * try { await loadSecrets(options) } catch (error) {
 *   if ((error as { code?: unknown }).code === SecretsLoadError.code) process.exit(1)
 * }
 */
export class SecretsLoadError extends Error {
  /** The stable code, for `error.code === SecretsLoadError.code` checks across package copies. */
  static readonly code = 'ERR_SECRETS_LOAD'
  override readonly name = 'SecretsLoadError'
  readonly code = SecretsLoadError.code
  /** Required secrets no source had. */
  readonly missing: readonly string[]
  /** Secrets that failed validation. */
  readonly invalid: readonly InvalidSecret[]
  /** Sources that failed (unreachable, refused, unreadable). */
  readonly failed: readonly SourceFailure[]
  /** Every source tried, in order. */
  readonly sources: readonly string[]

  constructor(details: SecretsLoadErrorDetails) {
    const parts: string[] = []
    if (details.missing.length > 0) parts.push(`missing ${details.missing.map((n) => `"${n}"`).join(', ')}`)
    if (details.invalid.length > 0) {
      parts.push(`invalid ${details.invalid.map((i) => `"${i.name}" (${i.problem})`).join(', ')}`)
    }
    for (const failure of details.failed) parts.push(`source ${failure.source} failed: ${failure.message}`)
    super(`cannot load secrets: ${parts.join('; ')}; sources tried: ${details.sources.join(', ')}`)
    this.missing = Object.freeze([...details.missing])
    this.invalid = Object.freeze(details.invalid.map((i) => Object.freeze({ ...i })))
    this.failed = Object.freeze(details.failed.map((f) => Object.freeze({ ...f })))
    this.sources = Object.freeze([...details.sources])
  }
}
