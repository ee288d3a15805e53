import type { Auth, RequestLike } from '@zerotrust/core'
import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'
import { wasmCallInliningAborts } from './v8-remedy.js'

/** A Cedar entity reference: its type (with namespace, such as `Orders::User`) and id. */
export interface EntityRef {
  readonly type: string
  readonly id: string
}

/**
 * A value Cedar can hold: a string, a boolean, an integer within ±(2^53 - 1), a set (array), a record, an
 * entity reference (`{ __entity: { type, id } }`) or an extension value (`{ __extn: { fn, arg } }`).
 * Anything else (a fraction, `NaN`, a `bigint`, `null`) is refused before it reaches the engine.
 */
export type CedarValue =
  | string
  | boolean
  | number
  | readonly CedarValue[]
  | { readonly __entity: EntityRef }
  | { readonly __extn: { readonly fn: string; readonly arg: CedarValue } }
  | { readonly [key: string]: CedarValue }

/** One entity handed to Cedar for a decision. */
export interface CedarEntity {
  readonly uid: EntityRef
  /** Its attributes; none when absent. */
  readonly attrs?: Readonly<Record<string, CedarValue>>
  /** The entities it is a member of (`principal in Group::"admins"`); none when absent. */
  readonly parents?: readonly EntityRef[]
  /** Its tags (Cedar 4), where the schema declares them. */
  readonly tags?: Readonly<Record<string, CedarValue>>
}

/**
 * A loader's entities named by a version: an etag, a snapshot id, a row version. One version always comes
 * with the same entities, so the authorizer converts and checks them once per version, keys its decision
 * cache by the version instead of by every entity, and (with `slice`) hands the engine only the entities
 * and attributes the policies can read.
 *
 * @example
 * entities: () => ({ version: store.etag, entities: store.all })
 */
export interface EntitySnapshot {
  /**
   * Names these entities: a new version for any change. A non-empty string of at most 256 characters or
   * a safe integer.
   */
  readonly version: string | number
  readonly entities: readonly CedarEntity[]
}

/** What the `entities` loader returns: the entities of one decision, or a versioned snapshot of them. */
export type EntitiesResult = readonly CedarEntity[] | EntitySnapshot

/**
 * Where policies come from: Cedar text (with a `name` used in policy ids and error locations), one file,
 * or a directory whose `*.cedar` files are read in name order.
 */
export type PolicySource =
  | { readonly text: string; readonly name?: string }
  | { readonly file: string }
  | { readonly dir: string }

/** Where the schema comes from: Cedar schema text, its JSON form, or a file (`.json` for the JSON form). */
export type SchemaSource =
  | { readonly text: string }
  | { readonly json: Readonly<Record<string, unknown>> }
  | { readonly file: string }

/** What a reload did, for the watcher's `onReload` callback. */
export type ReloadResult =
  | { readonly ok: true; readonly policies: number }
  | { readonly ok: false; readonly error: Error }

/** Options of `cedarAuthorizer`. */
export interface CedarAuthorizerOptions {
  /** The policies: one source or several. Every policy gets an id from `@id("...")`, else `<file>#<index>`. */
  readonly policies: PolicySource | readonly PolicySource[]
  /** A schema to validate the policies against at construction (strict mode) and, by default, requests. */
  readonly schema?: SchemaSource
  /**
   * Whether each request (principal, action, resource, context and entities) is validated against the
   * schema; `true` by default when a schema is given.
   */
  readonly validateRequest?: boolean
  /** The namespace of the default entity types, such as `Orders` for `Orders::User`; none by default. */
  readonly namespace?: string
  /**
   * The entity type names the default mapping uses, before the namespace: `user` (`User`) for tokens
   * with a subject, `client` (`Client`) for client-credentials tokens, `workload` (`Workload`) for a
   * workload proven without a token (`workloadIdentity` of `@zerotrust/workload`), `resource`
   * (`Resource`) and `action` (`Action`).
   */
  readonly entityTypes?: {
    readonly user?: string
    readonly client?: string
    readonly workload?: string
    readonly resource?: string
    readonly action?: string
  }
  /**
   * The principal of a request; by default `User::"<sub>"`, or `Client::"<client id>"` without a user,
   * or `Workload::"<SPIFFE ID>"` for a workload proven without a token.
   */
  readonly principal?: (auth: Auth, req: RequestLike) => EntityRef
  /**
   * The action of a request; by default `Action::"<METHOD> <route pattern>"`, such as `GET /orders/:id`
   * (a `HEAD` request is the `GET` of its route unless `headAsGet` is `false`).
   */
  readonly action?: (req: RequestLike, auth: Auth) => EntityRef
  /** The resource of a request; by default `Resource::"<last route parameter>"`, or the route pattern. */
  readonly resource?: (req: RequestLike, auth: Auth) => EntityRef
  /**
   * Further context attributes, merged over the default ones, such as a client IP your framework knows.
   * With `defaultContext: false`, the whole context.
   */
  readonly context?: (req: RequestLike, auth: Auth) => Readonly<Record<string, CedarValue>>
  /**
   * Whether the context carries the default attributes (`scopes`, `token`, `clientId`, `time`, `mtls`,
   * `params`, and `workload` when the request proved one); `true` by default. With a schema, an action's requests carry only the default attributes
   * its declared context names (a context declaring none gets none), and a default attribute declared
   * with another type stops the start. `false` leaves the context to the `context` option alone.
   */
  readonly defaultContext?: boolean
  /**
   * Decide a `HEAD` request as the `GET` of the same route (`GET /orders/:id`), as RFC 9110 §9.3.2 defines
   * HEAD: a GET without the content. `true` by default; with it, a policy naming a `HEAD …` action of the
   * default mapping stops the start (it could never match). Only the default action mapping reads it.
   */
  readonly headAsGet?: boolean
  /**
   * The most scopes a token may carry into the context: a token with more is denied (403
   * `too_many_scopes`) before anything reaches the engine, whose cost grows with each scope. 256 by
   * default. Read only where the context carries `scopes`.
   */
  readonly maxScopes?: number
  /** The longest scope carried into the context, in characters: a longer one denies (403 `scope_too_long`); 256 by default. */
  readonly maxScopeLength?: number
  /**
   * Loads the entities of a decision: an array (the small slice one decision needs: the resource, the
   * principal, their parents), or an {@link EntitySnapshot} `{ version, entities }` whose version keys the
   * decision cache and the conversion of the entities, done once per version.
   */
  readonly entities?: (req: RequestLike, auth: Auth) => EntitiesResult | PromiseLike<EntitiesResult>
  /**
   * With a versioned loader (`{ version, entities }`), hand the engine only the entities a decision can
   * reach (the principal, action, resource, entities named in the context or the policies, those their
   * attributes and tags name, and the ancestors of each, for `in`) and only the attributes the policies
   * read; `true` by default. Each version is checked whole by the engine once, so slicing never changes
   * a decision. Arrays from the loader are sent as they are.
   */
  readonly slice?: boolean
  /** How many versions of the loader's entities are kept converted, least recently used out first; 16 by default. */
  readonly maxVersions?: number
  /**
   * Whether `context.time` (seconds since the epoch) is set; `true` by default. With a schema, only for
   * the actions whose context declares `time`.
   */
  readonly time?: boolean
  /** The clock for `context.time`, in milliseconds since the epoch; `Date.now` by default. */
  readonly now?: () => number
  /**
   * A bounded cache of decisions for identical (principal, action, resource, context, entities); off by
   * default. It stays off while `context.time` is set unless `timeVarying` is `true` (the key holds the
   * time, so entries then serve one second only). Cleared on every reload.
   */
  readonly cache?:
    | false
    | {
        /** Most decisions kept; 10 000 by default. */
        readonly max?: number
        /** Cache even though the context carries the time; `false` by default. */
        readonly timeVarying?: boolean
      }
  /**
   * Watch the policy directories and files, reloading when they change, `debounce` milliseconds (200 by
   * default) after the last change; off by default. A set that fails to parse or validate is rejected and
   * the old one keeps serving.
   */
  readonly watch?:
    | boolean
    | {
        readonly debounce?: number
        /** @deprecated The old name of `debounce`, still accepted. */
        readonly debounceMs?: number
      }
  /** Told about every reload the watcher runs; by default a failed one is a process warning. */
  readonly onReload?: (result: ReloadResult) => void
  /**
   * Turn off V8's inlining of JavaScript-to-wasm calls for the process (`--no-turbo-inline-js-wasm-calls`),
   * the remedy for a V8 abort on Node 20 (see the README), and say so once in a process warning. By
   * default only on Node 20, where the abort reproduces; `true` sets it on any Node, `false` leaves the
   * process's V8 flags alone, for services that set the flag on the command line or accept the risk.
   */
  readonly disableWasmCallInlining?: boolean
}

/** The options of `cedarAuthorizer` after checking, with every default filled in. */
export interface CedarAuthorizerSettings {
  readonly sources: readonly PolicySource[]
  readonly schema: SchemaSource | undefined
  readonly validateRequest: boolean
  readonly types: {
    readonly user: string
    readonly client: string
    readonly workload: string
    readonly resource: string
    readonly action: string
  }
  readonly principal: CedarAuthorizerOptions['principal']
  readonly action: CedarAuthorizerOptions['action']
  readonly resource: CedarAuthorizerOptions['resource']
  readonly context: CedarAuthorizerOptions['context']
  readonly defaultContext: boolean
  readonly headAsGet: boolean
  readonly maxScopes: number
  readonly maxScopeLength: number
  readonly entities: CedarAuthorizerOptions['entities']
  readonly slice: boolean
  readonly maxVersions: number
  readonly time: boolean
  readonly now: () => number
  /** The size of the decision cache, when one is configured; it is on while the context has no time. */
  readonly cacheMax: number | undefined
  /** Whether the decision cache stays on while the context carries the time. */
  readonly cacheTimeVarying: boolean
  readonly debounceMs: number | undefined
  readonly onReload: CedarAuthorizerOptions['onReload']
  readonly disableWasmCallInlining: boolean
}

const text = option.nonEmptyString()
// A Cedar identifier, optionally with namespaces: `Orders::User`.
const typeName = z
  .string({ error: 'must be a Cedar type name such as "User"' })
  .regex(/^[_a-zA-Z][_a-zA-Z0-9]*(?:::[_a-zA-Z][_a-zA-Z0-9]*)*$/, {
    error: 'must be a Cedar type name such as "User"',
  })
const fn = <K extends keyof CedarAuthorizerOptions>(what: string) =>
  option.callable<NonNullable<CedarAuthorizerOptions[K]> & ((...args: never) => unknown)>(
    `must be a function ${what}`,
  )
const positiveInteger = option.positiveInteger()
const debounce = option.milliseconds()

const policySource = z.union(
  [
    z.strictObject({ text: z.string({ error: 'must be a string' }), name: text.optional() }),
    z.strictObject({ file: text }),
    z.strictObject({ dir: text }),
  ],
  { error: 'must be { text }, { file } or { dir }, or an array of them' },
)

const schemaSource = z.union(
  [
    z.strictObject({ text: text }),
    z.strictObject({ json: z.record(z.string(), z.unknown()) }),
    z.strictObject({ file: text }),
  ],
  { error: 'must be { text }, { json } or { file }' },
)

const schema = z.strictObject(
  {
    policies: z.union(
      [policySource, z.array(policySource).min(1, { error: 'must name at least one source' })],
      {
        error: 'must be { text }, { file } or { dir }, or an array of them',
      },
    ),
    schema: schemaSource.optional(),
    validateRequest: option.boolean().optional(),
    namespace: typeName.optional(),
    entityTypes: z
      .strictObject({
        user: typeName.optional(),
        client: typeName.optional(),
        workload: typeName.optional(),
        resource: typeName.optional(),
        action: typeName.optional(),
      })
      .optional(),
    principal: fn<'principal'>('(auth, req) => ({ type, id })').optional(),
    action: fn<'action'>('(req, auth) => ({ type, id })').optional(),
    resource: fn<'resource'>('(req, auth) => ({ type, id })').optional(),
    context: fn<'context'>('(req, auth) => record').optional(),
    defaultContext: option.boolean().optional(),
    headAsGet: option.boolean().optional(),
    maxScopes: positiveInteger.optional(),
    maxScopeLength: positiveInteger.optional(),
    entities: fn<'entities'>('(req, auth) => entities').optional(),
    slice: option.boolean().optional(),
    maxVersions: positiveInteger.optional(),
    time: option.boolean().optional(),
    now: fn<'now'>('returning milliseconds').optional(),
    cache: z
      .union(
        [
          z.literal(false),
          z.strictObject({
            max: positiveInteger.optional(),
            timeVarying: option.boolean().optional(),
          }),
        ],
        { error: 'must be false or { max, timeVarying }' },
      )
      .optional(),
    watch: z
      .union(
        [
          z.boolean(),
          z
            .strictObject({ debounce: debounce.optional(), debounceMs: debounce.optional() })
            .superRefine(option.renamed({ debounceMs: 'debounce' })),
        ],
        { error: 'must be a boolean or { debounce }' },
      )
      .optional(),
    onReload: fn<'onReload'>('(result) => void').optional(),
    disableWasmCallInlining: option.boolean().optional(),
  },
  { error: 'must be an object' },
) satisfies OptionsSchema<CedarAuthorizerOptions>

/**
 * Checks `cedarAuthorizer` options once.
 *
 * @throws TypeError naming the option
 */
export function cedarAuthorizerSettings(input: CedarAuthorizerOptions): CedarAuthorizerSettings {
  const options = parseOptions('cedarAuthorizer', schema, input) as CedarAuthorizerOptions
  const prefix = options.namespace === undefined ? '' : `${options.namespace}::`
  const types = options.entityTypes ?? {}
  const time = options.time ?? true
  const cache = options.cache === false ? undefined : options.cache
  const watch = options.watch
  return Object.freeze({
    sources: Object.freeze(Array.isArray(options.policies) ? [...options.policies] : [options.policies]),
    schema: options.schema,
    validateRequest: options.validateRequest ?? options.schema !== undefined,
    types: Object.freeze({
      user: prefix + (types.user ?? 'User'),
      client: prefix + (types.client ?? 'Client'),
      workload: prefix + (types.workload ?? 'Workload'),
      resource: prefix + (types.resource ?? 'Resource'),
      action: prefix + (types.action ?? 'Action'),
    }),
    principal: options.principal,
    action: options.action,
    resource: options.resource,
    context: options.context,
    defaultContext: options.defaultContext ?? true,
    headAsGet: options.headAsGet ?? true,
    maxScopes: options.maxScopes ?? 256,
    maxScopeLength: options.maxScopeLength ?? 256,
    entities: options.entities,
    slice: options.slice ?? true,
    maxVersions: options.maxVersions ?? 16,
    time,
    now: options.now ?? Date.now,
    cacheMax: cache === undefined ? undefined : (cache.max ?? 10_000),
    cacheTimeVarying: cache?.timeVarying === true,
    debounceMs:
      watch === undefined || watch === false
        ? undefined
        : watch === true
          ? 200
          : (watch.debounce ?? watch.debounceMs ?? 200),
    onReload: options.onReload,
    disableWasmCallInlining: options.disableWasmCallInlining ?? wasmCallInliningAborts(),
  })
}
