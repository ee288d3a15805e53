/** What one source found: secret name → raw value (a string, or a JSON value from Vault). */
export type SourceValues = ReadonlyMap<string, unknown>

/** What a source is given when the set starts watching it. */
export interface SourceContext {
  /** Asks the set to re-read this source (debounced and coalesced by the caller where needed). */
  readonly changed: () => void
  /** Reports a background failure; the error carries no secret value. */
  readonly report: (error: Error) => void
}

/**
 * A place secrets come from: `env()`, `files()`, `vault()`. The set reads every source at startup, then
 * re-reads a source when it reports a change or on its own schedule.
 */
export interface SecretSource {
  /** A label for errors, such as `files(/var/run/secrets/app)`; never a value. */
  readonly label: string
  /** Reads the named secrets this source has; names it lacks are absent from the map. */
  read(names: readonly string[]): Promise<SourceValues>
  /** Starts watching or scheduling refreshes; called once, after the first successful load. */
  start?(context: SourceContext): void
  /**
   * When values this source returned stop being usable (`Date.now()` milliseconds), for values that
   * expire, such as credentials under a Vault lease; `undefined` when they do not. The set serves them
   * until then, whether or not the source answers, and `current()` throws `lease_expired` after.
   */
  validUntil?(values: SourceValues): number | undefined
  /** Stops every watcher and timer; reading after close is not supported. */
  close?(): void | Promise<void>
}
