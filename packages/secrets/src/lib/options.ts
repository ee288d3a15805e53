import { type OptionsSchema, option, type Parsed, parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'
import type { ObjectSchema } from './run-schema.js'
import type { SetSettings } from './secret-set.js'
import type { SecretSource } from './source.js'
import { maxTimerDelay } from './timers.js'
import type { VaultAuth, VaultClientSettings } from './vault-client.js'

/** Options of `loadSecrets`. */
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

/** Options of `env`. */
export interface EnvOptions {
  /** A prefix of every variable: with `'APP_'`, the secret `DB_PASSWORD` is read from `APP_DB_PASSWORD`. */
  readonly prefix?: string
  /**
   * Whether `NAME_FILE` names a file to read when `NAME` is unset (the Docker secrets convention:
   * `DB_PASSWORD_FILE=/run/secrets/db_password`); `true` by default.
   */
  readonly files?: boolean
  /** The variables; `process.env` by default (read at every load, so tests can set it). */
  readonly environment?: Readonly<Record<string, string | undefined>>
}

/** Options of `files`. */
export interface FilesOptions {
  /** The directory holding one file per secret, named after the secret (a Kubernetes secret volume). */
  readonly directory: string
  /** Milliseconds to wait after the last change event before re-reading; 100 by default. */
  readonly debounce?: number
  /**
   * Milliseconds between checks of the `..data` link, in case change events are lost (network file
   * systems, some containers); 60 000 by default, `0` turns polling off.
   */
  readonly pollInterval?: number
}

/** Options of `vault`. */
export interface VaultOptions {
  /** The Vault server, such as `https://vault.example.com:8200` (plain http only on loopback). */
  readonly address: string
  /** A Vault token, or a getter returning the current one. Exactly one of `token` and `kubernetes`. */
  readonly token?: string | (() => string)
  /** Kubernetes auth: log in with the pod's service account token. */
  readonly kubernetes?: {
    /** The Vault role bound to this service account. */
    readonly role: string
    /** The projected service account token; `/var/run/secrets/kubernetes.io/serviceaccount/token` by default. */
    readonly jwtPath?: string
    /** Where the Kubernetes auth method is mounted; `kubernetes` by default. */
    readonly mount?: string
  }
  /** The Vault Enterprise namespace, sent as `X-Vault-Namespace`. */
  readonly namespace?: string
  /** Where the KV v2 engine is mounted; `secret` by default. */
  readonly mount?: string
  /** The secret's path in the engine, such as `orders/api`; its keys are the secret names. */
  readonly path: string
  /** A pinned version; the latest by default. */
  readonly version?: number
  /** Milliseconds between re-reads, to pick up rotated values; 300 000 by default, `0` turns it off. */
  readonly refreshInterval?: number
  /** Milliseconds before a request is abandoned; 5000 by default. */
  readonly timeout?: number
  /** The fetch implementation, for a proxy or a custom CA; the global `fetch` by default. */
  readonly fetch?: typeof globalThis.fetch
}

/** Options of `vaultDatabase`: how to reach Vault (as for `vault`), and which credentials to issue. */
export interface VaultDatabaseOptions
  extends Pick<VaultOptions, 'address' | 'token' | 'kubernetes' | 'namespace' | 'timeout' | 'fetch'> {
  /** The database secrets engine's role: credentials come from `GET /v1/<mount>/creds/<role>`. */
  readonly role: string
  /** Where the database secrets engine is mounted; `database` by default. */
  readonly mount?: string
  /** The secret these credentials are, a key of the schema (`DB` for `z.object({ DB: databaseCredentials })`). */
  readonly name: string
  /**
   * Seconds of lease asked for at each renewal (Vault's `increment`); by default the lease Vault gave
   * with the credentials (the role's `default_ttl`).
   */
  readonly incrementSeconds?: number
  /**
   * Milliseconds between replacing credentials and revoking the lease of the old ones, so that pools
   * drain their connections first; 60 000 by default. Credentials whose lease ends sooner are left to
   * expire.
   */
  readonly revokeGrace?: number
}

// Durations that arm a timer stop at its largest delay: past it, Node fires the timer at once, and a
// poll or a re-read would run in a loop.
const timerDelay = (bounds: { readonly min?: number } = {}) =>
  option.milliseconds({ ...bounds, max: maxTimerDelay })

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

const loadSecretsSchema = z.strictObject(
  {
    schema: z
      .custom<z.ZodObject>(isObjectSchema, { error: 'must be a zod object schema' })
      .refine((s) => Object.keys(s.shape).length > 0, { error: 'must name at least one secret' })
      .refine((s) => !Object.keys(s.shape).some((name) => reserved.has(name)), {
        error: 'cannot name a secret "get", "onRotate", "forceRefresh", "close" or "then"',
      }),
    sources: z
      .array(z.custom<SecretSource>(isSource, { error: 'must only contain sources' }), {
        error: 'must be a non-empty array of sources',
      })
      .min(1, { error: 'must be a non-empty array of sources' }),
    // A deadline, not a timer: the staleness check re-arms in steps a timer can take.
    maxStaleness: option.milliseconds().optional(),
    watch: option.boolean().optional(),
    onError: option.callable<(error: Error) => void>().optional(),
  },
  { error: 'must be an object' },
) satisfies OptionsSchema<LoadSecretsOptions<z.ZodObject>>

const warn = (error: Error) => process.emitWarning(error.message, { code: 'ZEROTRUST_SECRETS' })

/**
 * Checks `loadSecrets` options once: the settings of its set of secrets, with every default filled in.
 *
 * @throws TypeError naming the option
 */
export function loadSecretsSettings(input: unknown): SetSettings {
  const o = parseOptions('loadSecrets', loadSecretsSchema, input)
  return Object.freeze({
    schema: o.schema,
    names: Object.freeze(Object.keys(o.schema.shape)),
    sources: Object.freeze([...o.sources]),
    maxStaleness: o.maxStaleness ?? 900_000,
    watch: o.watch ?? true,
    report: o.onError ?? warn,
  })
}

const envSchema = z
  .strictObject(
    {
      prefix: z
        .string({ error: 'must be a string' })
        .regex(/^[A-Za-z0-9_]*$/, { error: 'must only contain letters, digits and "_"' })
        .optional(),
      files: option.boolean().optional(),
      environment: z.record(z.string(), z.string().optional(), { error: 'must be an object' }).optional(),
    },
    { error: 'must be an object' },
  )
  .optional() satisfies OptionsSchema<EnvOptions | undefined>

/** The options of `env` after checking, with every default filled in. */
export interface EnvSettings {
  readonly prefix: string
  readonly files: boolean
  /** The variables given; `undefined` reads `process.env` at every load. */
  readonly environment: Readonly<Record<string, string | undefined>> | undefined
}

/**
 * Checks `env` options once.
 *
 * @throws TypeError naming the option
 */
export function envSettings(input: unknown): EnvSettings {
  const o = parseOptions('env', envSchema, input)
  return Object.freeze({ prefix: o?.prefix ?? '', files: o?.files ?? true, environment: o?.environment })
}

const filesSchema = z.strictObject(
  {
    directory: option.nonEmptyString(),
    debounce: timerDelay().optional(),
    pollInterval: timerDelay().optional(),
  },
  { error: 'must be an object' },
) satisfies OptionsSchema<FilesOptions>

/** The options of `files` after checking, with every default filled in. */
export interface FilesSettings {
  readonly directory: string
  readonly debounce: number
  /** 0 when polling is off. */
  readonly pollInterval: number
}

/**
 * Checks `files` options once.
 *
 * @throws TypeError naming the option
 */
export function filesSettings(input: unknown): FilesSettings {
  const o = parseOptions('files', filesSchema, input)
  return Object.freeze({
    directory: o.directory,
    debounce: o.debounce ?? 100,
    pollInterval: o.pollInterval ?? 60_000,
  })
}

/** The options of `vault` and `vaultDatabase` that say how to reach and log in to Vault. */
const vaultClientShape = {
  address: option.url(),
  token: z
    .union([option.nonEmptyString(), option.callable<() => string>()], {
      error: 'must be a non-empty string or a function returning one',
    })
    .optional(),
  kubernetes: z
    .strictObject(
      {
        role: option.nonEmptyString(),
        jwtPath: option.nonEmptyString().optional(),
        mount: option.nonEmptyString().optional(),
      },
      { error: 'must be an object with a "role"' },
    )
    .optional(),
  namespace: option.nonEmptyString().optional(),
  timeout: timerDelay({ min: 1 }).optional(),
  fetch: option.callable<typeof globalThis.fetch>('must be a fetch function').optional(),
}

const oneAuth = (o: { token?: unknown; kubernetes?: unknown }, ctx: z.RefinementCtx) => {
  if ((o.token === undefined) === (o.kubernetes === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['token'], message: 'must be set, or "kubernetes", but not both' })
  }
}

const vaultSchema = z
  .strictObject(
    {
      ...vaultClientShape,
      mount: option.nonEmptyString().optional(),
      path: option.nonEmptyString(),
      version: option.positiveInteger().optional(),
      refreshInterval: timerDelay().optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine(oneAuth) satisfies OptionsSchema<VaultOptions>

/** The options of `vault` after checking, with every default filled in. */
export interface VaultSourceSettings {
  /** What the Vault client is made of. */
  readonly client: VaultClientSettings
  readonly mount: string
  readonly path: string
  readonly version: number | undefined
  /** 0 when scheduled re-reads are off. */
  readonly refreshInterval: number
}

/**
 * Checks `vault` options once.
 *
 * @throws TypeError naming the option
 */
export function vaultSettings(input: unknown): VaultSourceSettings {
  const o = parseOptions('vault', vaultSchema, input)
  return Object.freeze({
    client: vaultClientSettings(o),
    mount: o.mount ?? 'secret',
    path: o.path,
    version: o.version,
    refreshInterval: o.refreshInterval ?? 300_000,
  })
}

/** The settings of a Vault client from checked `vault` or `vaultDatabase` options. */
function vaultClientSettings(
  o: Parsed<Pick<VaultOptions, 'address' | 'token' | 'kubernetes' | 'namespace' | 'timeout' | 'fetch'>>,
): VaultClientSettings {
  const token = o.token
  const auth: VaultAuth =
    o.kubernetes !== undefined
      ? {
          kind: 'kubernetes',
          role: o.kubernetes.role,
          jwtPath: o.kubernetes.jwtPath ?? '/var/run/secrets/kubernetes.io/serviceaccount/token',
          mount: o.kubernetes.mount ?? 'kubernetes',
        }
      : { kind: 'token', token: typeof token === 'function' ? token : () => token ?? '' }
  return Object.freeze({
    address: new URL(o.address),
    namespace: o.namespace,
    auth,
    timeout: o.timeout ?? 5000,
    fetch: o.fetch ?? ((...args: Parameters<typeof globalThis.fetch>) => globalThis.fetch(...args)),
  })
}

// Vault's role names: word characters, with "-" and "." inside (its GenericNameRegex). One path segment,
// so a role can never reach another endpoint.
const roleName = /^\w(?:[\w.-]{0,126}\w)?$/

const vaultDatabaseSchema = z
  .strictObject(
    {
      ...vaultClientShape,
      role: z
        .string({ error: 'must be a Vault role name' })
        .regex(roleName, { error: 'must be a Vault role name (letters, digits, "_", "-" and ".")' }),
      mount: option.nonEmptyString().optional(),
      name: option.nonEmptyString(),
      incrementSeconds: option.seconds({ min: 1 }).optional(),
      revokeGrace: timerDelay().optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine(oneAuth) satisfies OptionsSchema<VaultDatabaseOptions>

/** The options of `vaultDatabase` after checking, with every default filled in. */
export interface VaultDatabaseSettings {
  readonly client: VaultClientSettings
  readonly role: string
  readonly mount: string
  readonly name: string
  /** `undefined` asks for the lease Vault first gave. */
  readonly incrementSeconds: number | undefined
  readonly revokeGrace: number
}

/**
 * Checks `vaultDatabase` options once.
 *
 * @throws TypeError naming the option
 */
export function vaultDatabaseSettings(input: unknown): VaultDatabaseSettings {
  const o = parseOptions('vaultDatabase', vaultDatabaseSchema, input)
  return Object.freeze({
    client: vaultClientSettings(o),
    role: o.role,
    mount: o.mount ?? 'database',
    name: o.name,
    incrementSeconds: o.incrementSeconds,
    revokeGrace: o.revokeGrace ?? 60_000,
  })
}
