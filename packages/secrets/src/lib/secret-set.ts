import { isDeepStrictEqual } from 'node:util'
import { ZeroTrustError } from '@zerotrust/core'
import { Secret, type SecretState } from '../secret.js'
import { type InvalidSecret, SecretsLoadError, type SourceFailure } from '../secrets-load-error.js'
import { errorCode, sourceError } from './errors.js'
import { type ObjectSchema, runSchema, schemaException } from './run-schema.js'
import type { SecretSource, SourceValues } from './source.js'
import { backgroundTimeout } from './timers.js'

export type { ObjectSchema } from './run-schema.js'

/** The validated options of a set. */
export interface SetSettings {
  readonly schema: ObjectSchema
  readonly names: readonly string[]
  readonly sources: readonly SecretSource[]
  readonly maxStaleness: number
  readonly watch: boolean
  readonly report: (error: Error) => void
}

interface SourceState {
  readonly source: SecretSource
  /** The values last read that validated, used while the source fails. */
  good: SourceValues
  lastSuccessAt: number
  failingSince: number | undefined
}

type Listener = (secret: Secret<unknown>) => void | PromiseLike<void>

/**
 * The engine behind `loadSecrets`: reads sources, validates their merge with the schema, keeps the last
 * good values, coalesces refreshes, enforces `maxStaleness` with one timer, and calls rotation listeners.
 */
export class SecretSet {
  readonly secrets = new Map<string, Secret<unknown>>()
  readonly #states = new Map<string, SecretState<unknown>>()
  readonly #listeners = new Map<string, Set<Listener>>()
  readonly #sources: SourceState[]
  readonly #dirty = new Set<SourceState>()
  #inflight: Promise<Error[]> | undefined
  #next: Promise<Error[]> | undefined
  #staleTimer: NodeJS.Timeout | undefined
  #closed = false

  private constructor(readonly settings: SetSettings) {
    this.#sources = settings.sources.map((source) => ({
      source,
      good: new Map(),
      lastSuccessAt: 0,
      failingSince: undefined,
    }))
  }

  /** Reads every source once; throws one {@link SecretsLoadError} listing every problem. */
  static async load(settings: SetSettings): Promise<SecretSet> {
    const set = new SecretSet(settings)
    const failed: SourceFailure[] = []
    const now = Date.now()
    const results = await Promise.allSettled(set.#sources.map((s) => readSource(s.source, settings.names)))
    results.forEach((result, index) => {
      const state = set.#sources[index] as SourceState
      if (result.status === 'fulfilled') {
        state.good = result.value
        state.lastSuccessAt = now
      } else {
        failed.push({ source: state.source.label, message: messageOf(result.reason) })
      }
    })
    const raw = set.#merge(new Map())
    const parsed = runSchema(settings.schema, raw.values)
    const missing: string[] = []
    const invalid: InvalidSecret[] = []
    if (!parsed.success) {
      for (const { name, problem } of parsed.problems) {
        if (name !== undefined && raw.values[name] === undefined && problem !== schemaException) {
          missing.push(name)
        } else {
          invalid.push({ name: name ?? '(schema)', problem })
        }
      }
    }
    if (!parsed.success || failed.length > 0) {
      await set.#closeSources()
      throw new SecretsLoadError({
        missing,
        invalid,
        failed,
        sources: settings.sources.map((s) => s.label),
      })
    }
    for (const name of settings.names) {
      const state: SecretState<unknown> = { value: parsed.data[name], error: undefined }
      set.#states.set(name, state)
      set.secrets.set(name, new Secret(name, state, (listener) => set.onRotate(name, listener)))
    }
    // Values under a lease expire at its end: arm the check from the start.
    set.#checkStaleness()
    if (settings.watch) {
      for (const state of set.#sources) {
        try {
          state.source.start?.({
            changed: () => {
              // refresh() never rejects: #start turns any failure into a reported error.
              if (!set.#closed) void set.refresh([state])
            },
            report: (error) => set.#report(error),
          })
        } catch (error) {
          // The values were read; only watching failed, as a file watcher can.
          set.#report(
            sourceError(`${state.source.label} cannot watch for changes (${errorCode(error)})`, 'watch'),
          )
        }
      }
    }
    return set
  }

  /** Registers a rotation listener; returns a function that removes it. */
  onRotate(name: string, listener: Listener): () => void {
    let listeners = this.#listeners.get(name)
    if (listeners === undefined) {
      listeners = new Set()
      this.#listeners.set(name, listeners)
    }
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
    }
  }

  /** Re-reads every source; concurrent calls share one read, and a call during a read gets the next. */
  async forceRefresh(): Promise<void> {
    if (this.#closed) throw new Error('the secrets are closed')
    const errors = await this.refresh(this.#sources)
    if (errors.length > 0) throw errors[0]
  }

  /**
   * Schedules a read of `sources`. A read in flight may have started before the change, so callers
   * arriving during it share one follow-up read instead of joining it.
   */
  refresh(sources: readonly SourceState[]): Promise<Error[]> {
    for (const source of sources) this.#dirty.add(source)
    if (this.#next !== undefined) return this.#next
    if (this.#inflight !== undefined) {
      this.#next = this.#inflight.then(() => {
        this.#next = undefined
        return this.#start()
      })
      return this.#next
    }
    return this.#start()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#staleTimer !== undefined) clearTimeout(this.#staleTimer)
    this.#staleTimer = undefined
    await this.#closeSources()
    await this.#next
    await this.#inflight
  }

  #start(): Promise<Error[]> {
    // Never rejects: a refresh started by a watcher or a timer has nobody to reject to, and a rejected
    // run would also leave the follow-up read chained on it (`#next`) waiting forever.
    const run = this.#run()
      .catch((error: unknown) => {
        const failure = sourceError(`refreshing the secrets failed (${errorCode(error)})`, 'refresh_failed')
        this.#report(failure)
        return [failure]
      })
      .finally(() => {
        if (this.#inflight === run) this.#inflight = undefined
      })
    this.#inflight = run
    return run
  }

  async #run(): Promise<Error[]> {
    const dirty = [...this.#dirty]
    this.#dirty.clear()
    if (this.#closed || dirty.length === 0) return []
    const errors: Error[] = []
    const candidates = new Map<SourceState, SourceValues>()
    const now = Date.now()
    await Promise.all(
      dirty.map(async (state) => {
        try {
          candidates.set(state, await readSource(state.source, this.settings.names))
        } catch (error) {
          state.failingSince ??= now
          errors.push(asError(error, state.source.label))
        }
      }),
    )
    if (this.#closed) return errors
    // Validate the merge; a source whose new values break the schema is treated as failing, and its last
    // good values keep serving.
    for (;;) {
      const raw = this.#merge(candidates)
      const parsed = runSchema(this.settings.schema, raw.values)
      if (parsed.success) {
        for (const [state, values] of candidates) {
          state.good = values
          state.lastSuccessAt = now
          state.failingSince = undefined
        }
        this.#apply(parsed.data)
        break
      }
      const culprits = new Set<SourceState>()
      const named: string[] = []
      for (const { name, problem } of parsed.problems) {
        named.push(`"${name ?? '(schema)'}" (${problem})`)
        const provider = name === undefined ? undefined : raw.providers.get(name)
        // A name now missing was provided by a source that lost it: any changed source may be the culprit.
        if (provider !== undefined && candidates.has(provider)) culprits.add(provider)
      }
      if (culprits.size === 0) for (const state of candidates.keys()) culprits.add(state)
      if (culprits.size === 0) break
      for (const state of culprits) {
        candidates.delete(state)
        state.failingSince ??= now
        errors.push(
          new ZeroTrustError(
            'dependency_unavailable',
            `${state.source.label} gave secrets that fail the schema: ${named.join(', ')}`,
            { reason: 'secret_invalid' },
          ),
        )
      }
    }
    this.#checkStaleness()
    for (const error of errors) this.#report(error)
    return errors
  }

  /** Merges sources in order (the first that has a name wins), with candidates over last good values. */
  #merge(candidates: ReadonlyMap<SourceState, SourceValues>): {
    values: Record<string, unknown>
    providers: Map<string, SourceState>
  } {
    const values: Record<string, unknown> = {}
    const providers = new Map<string, SourceState>()
    for (const name of this.settings.names) {
      for (const state of this.#sources) {
        const found = candidates.get(state) ?? state.good
        if (found.has(name)) {
          values[name] = found.get(name)
          providers.set(name, state)
          break
        }
      }
    }
    return { values, providers }
  }

  #apply(data: Record<string, unknown>): void {
    const rotated: string[] = []
    for (const name of this.settings.names) {
      const state = this.#states.get(name)
      if (state === undefined) continue
      const value = data[name]
      if (!isDeepStrictEqual(state.value, value)) {
        state.value = value
        rotated.push(name)
      }
    }
    for (const name of rotated) {
      const secret = this.secrets.get(name)
      const listeners = this.#listeners.get(name)
      if (secret === undefined || listeners === undefined) continue
      for (const listener of listeners) {
        try {
          const result = listener(secret)
          if (result !== undefined && typeof result.then === 'function') {
            result.then(undefined, (error: unknown) => this.#listenerFailed(name, error))
          }
        } catch (error) {
          this.#listenerFailed(name, error)
        }
      }
    }
  }

  /** Marks secrets whose source has failed for longer than `maxStaleness`, and arms one timer. */
  #checkStaleness(): void {
    if (this.#staleTimer !== undefined) clearTimeout(this.#staleTimer)
    this.#staleTimer = undefined
    if (this.#closed) return
    const now = Date.now()
    const { providers } = this.#merge(new Map())
    let next = Number.POSITIVE_INFINITY
    for (const name of this.settings.names) {
      const state = this.#states.get(name)
      if (state === undefined) continue
      const provider = providers.get(name)
      const validUntil = provider?.source.validUntil?.(provider.good)
      if (provider !== undefined && validUntil !== undefined) {
        // A leased value serves until its lease ends, whether or not its source answers meanwhile.
        if (now >= validUntil) {
          state.error ??= new ZeroTrustError(
            'dependency_unavailable',
            `secret "${name}" has expired: the lease from ${provider.source.label} ended before it was renewed or replaced`,
            { reason: 'lease_expired' },
          )
        } else {
          state.error = undefined
          next = Math.min(next, validUntil)
        }
        continue
      }
      if (provider === undefined || provider.failingSince === undefined) {
        state.error = undefined
        continue
      }
      const deadline = provider.lastSuccessAt + this.settings.maxStaleness
      if (now >= deadline) {
        state.error ??= new ZeroTrustError(
          'dependency_unavailable',
          `secret "${name}" is stale: ${provider.source.label} has failed for longer than "maxStaleness"`,
          { reason: 'secret_stale' },
        )
      } else {
        state.error = undefined
        next = Math.min(next, deadline)
      }
    }
    if (next !== Number.POSITIVE_INFINITY) {
      this.#staleTimer = backgroundTimeout(() => this.#checkStaleness(), Math.max(1, next - now))
    }
  }

  #listenerFailed(name: string, error: unknown): void {
    // Named, not kept as `cause`: a listener's error may quote the value it was handling (a JSON.parse
    // of the secret throws a SyntaxError that does), and onError's errors never carry a value.
    this.#report(new Error(`an "onRotate" listener of "${name}" failed (${errorCode(error)})`))
  }

  #report(error: Error): void {
    try {
      const result: unknown = this.settings.report(error)
      // An async onError that rejects would be an unhandled rejection, which ends the process.
      if (isThenable(result)) result.then(undefined, () => {})
    } catch {
      // A failing error sink must not break rotation, and there is nowhere else to report it.
    }
  }

  async #closeSources(): Promise<void> {
    await Promise.allSettled(this.#sources.map(async (state) => state.source.close?.()))
  }
}

function messageOf(error: unknown): string {
  // Our sources only throw errors with messages written by this package; anything else is not echoed.
  if (error instanceof ZeroTrustError) return error.message
  return 'the source failed'
}

function asError(error: unknown, label: string): Error {
  if (error instanceof ZeroTrustError) return error
  return new ZeroTrustError('dependency_unavailable', `${label} failed`, { reason: 'source_failed' })
}

/** Reads a source, holding it to its contract: a rejection for a synchronous throw, a Map or a failure. */
async function readSource(source: SecretSource, names: readonly string[]): Promise<SourceValues> {
  const values: unknown = await source.read(names)
  if (!(values instanceof Map)) throw new TypeError('a source must answer with a Map')
  return values
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}
