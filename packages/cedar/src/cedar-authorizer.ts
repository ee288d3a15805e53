import { randomUUID } from 'node:crypto'
import { type FSWatcher, watch } from 'node:fs'
import {
  type AuthorizationAnswer,
  type Context,
  type EntityJson,
  type StatefulAuthorizationCall,
  statefulIsAuthorized,
} from '@cedar-policy/cedar-wasm/nodejs'
import { type Auth, type Authorizer, type Decision, type RequestLike, ZeroTrustError } from '@zerotrust/core'
import { LRUCache } from 'lru-cache'
import { type CompiledPolicies, compilePolicies, preparse } from './lib/compile.js'
import { type ContextPlans, contextPlans } from './lib/context-plan.js'
import { type CedarRequest, replan, toCedarRequest, UnmappableRequest } from './lib/mapping.js'
import {
  type CedarAuthorizerOptions,
  type CedarAuthorizerSettings,
  type CedarEntity,
  cedarAuthorizerSettings,
  type ReloadResult,
} from './lib/options.js'
import { type ActionSets, preparseByAction } from './lib/partition.js'
import { readPlans } from './lib/read-plans.js'
import { entityKey } from './lib/reads.js'
import { sanitize } from './lib/sanitize.js'
import { isSnapshot, namesIn, type Slicer, type Snapshot, slice, slicer, snapshotOf } from './lib/snapshot.js'
import { readSchema, readSchemaSync, readSources, readSourcesSync, watchTargets } from './lib/sources.js'
import { disableWasmCallInlining } from './lib/v8-remedy.js'
import {
  checkRecord,
  type DecisionKey,
  decisionKey,
  sameKey,
  toEntities,
  UnrepresentableValue,
  versionedKey,
} from './lib/values.js'

/** A Cedar authorizer: an `Authorizer` that can also reload its policies and stop watching them. */
export interface CedarAuthorizer extends Authorizer {
  readonly layer: 'cedar'
  /** The ids of the policies now serving, in source order. */
  readonly policyIds: readonly string[]
  /**
   * Reads, parses and validates the policies again and swaps them in atomically; resolves with the
   * number of policies. A set that fails is rejected (with a `CedarPolicyError`) and the old one keeps
   * serving. Reloads run one at a time.
   */
  reload(): Promise<{ readonly ok: true; readonly policies: number }>
  /** Stops the watcher, if any. The authorizer keeps answering with the policies it has. */
  close(): void
}

interface ActiveSet {
  readonly slot: string
  readonly compiled: CompiledPolicies
  readonly ids: readonly string[]
  readonly schemaName: string | undefined
  /** The default context of each action, from the schema. */
  readonly plans: ContextPlans
  readonly cache: LRUCache<number, CachedDecision> | undefined
  /** The versions of the loader's entities, converted and checked once each. */
  readonly snapshots: LRUCache<string | number, Snapshot> | undefined
  /**
   * How this set slices a versioned loader's entities; `undefined`: they are sent whole. Built on the
   * first snapshot (it pre-parses a schema of its own), so a loader of arrays never pays for it; `build`
   * false only looks (a set that no longer serves must not pre-parse under a slot now in use).
   */
  readonly slicer: (build: boolean) => Slicer | undefined
  /** The set pre-parsed per action; `undefined`: the whole set, under `slot`, serves every action. */
  readonly sets: ActionSets | undefined
}

/** A cached decision under its key's hash, with the whole key to confirm a hit. */
interface CachedDecision {
  readonly key: DecisionKey
  readonly decision: Decision
}

/**
 * An authorizer that decides with Cedar policies, parsed and validated once at construction and
 * pre-parsed in the engine, so a decision never parses policy text. Principal, action (method and route
 * pattern, `HEAD` as `GET`), resource (route parameters) and context (scopes, token kind, client id,
 * time, mTLS, route parameters: with a schema, those the action's context declares) come from the
 * request and its `Auth`, each with an override; `entities` loads the slice a decision needs, or a
 * `{ version, entities }` snapshot that is converted once per version, keys the decision cache by its
 * version, and is sliced to what each decision can read (`slice`). The policies are pre-parsed once per
 * action named with `==` too, so a decision hands the engine only the policies that can match it.
 *
 * Allowed: the request goes on, and the decision event names the determining policies. Denied: 403
 * `access_denied`, whose body names no policy. A policy that errors, or a value Cedar cannot represent,
 * denies (fail closed) with the problem in the event's `diagnostics`.
 *
 * @example
 * const policies = cedarAuthorizer({
 *   policies: { dir: './policies' },
 *   schema: { file: './orders.cedarschema' },
 *   entities: async (req, auth) => loadOrderSlice(req.params?.id, auth.subject),
 * })
 * // Or a versioned snapshot of a whole table, sliced per decision:
 * // entities: () => ({ version: store.etag, entities: store.all })
 * app.get('/orders/:id', authorize(policies), getOrder)
 * @throws TypeError naming the option, or CedarPolicyError listing each broken policy with its id, file
 * and line, and each default context attribute the schema declares with another type
 * @see https://docs.cedarpolicy.com/auth/authorization.html
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-9.3.2 (HEAD)
 */
export function cedarAuthorizer(options: CedarAuthorizerOptions): CedarAuthorizer {
  const settings = cedarAuthorizerSettings(options)
  // Before any decision makes the engine's glue hot: see lib/v8-remedy.ts.
  if (settings.disableWasmCallInlining) disableWasmCallInlining()
  const prefix = `zerotrust-cedar-${randomUUID()}`
  // A policy naming a `HEAD …` action could never match when HEAD is decided as GET.
  const headAsGet = settings.headAsGet && settings.action === undefined ? settings.types.action : undefined
  const compiled = compilePolicies(
    readSourcesSync(settings.sources),
    readSchemaSync(settings.schema),
    headAsGet,
  )
  // Two engine slots used in turn: a reload pre-parses into the idle one and then switches, so the old
  // set serves until the new one is whole, and the slot after that overwrites (frees) the set before it.
  // How many per-action sets each slot holds, to free those a later set does not reuse.
  const setCounts = new Map<string, number>()
  let active = activate(
    `${prefix}-a`,
    compiled,
    planContexts(compiled, settings, undefined),
    settings,
    setCounts,
  )
  let reloading: Promise<unknown> = Promise.resolve()
  let watchers: FSWatcher[] = []
  let timer: NodeJS.Timeout | undefined

  async function reloadNow(): Promise<{ readonly ok: true; readonly policies: number }> {
    const next = compilePolicies(
      await readSources(settings.sources),
      await readSchema(settings.schema),
      headAsGet,
    )
    if (next.fingerprint !== active.compiled.fingerprint) {
      const plans = planContexts(next, settings, active.plans)
      const slot = active.slot === `${prefix}-a` ? `${prefix}-b` : `${prefix}-a`
      active = activate(slot, next, plans, settings, setCounts)
    }
    return { ok: true, policies: active.ids.length }
  }

  const authorizer: CedarAuthorizer = {
    layer: 'cedar',
    get policyIds() {
      return active.ids
    },
    reload() {
      const run = reloading.then(reloadNow, reloadNow)
      reloading = run.catch(() => undefined)
      return run
    },
    close() {
      if (timer !== undefined) clearTimeout(timer)
      for (const watcher of watchers) watcher.close()
      watchers = []
    },
    // Not async: Cedar decides synchronously, so with entities from memory (or none) the decision, a
    // cache hit above all, is answered at once and adapters go on without a promise (issue 14). Only an
    // entity loader that answers with a promise makes the decision wait for it.
    authorize(req: RequestLike, auth: Auth): Decision | Promise<Decision> {
      try {
        const plans = active.plans
        const request = toCedarRequest(settings, plans, req, auth)
        const loaded: unknown = settings.entities === undefined ? noEntities : settings.entities(req, auth)
        if (isThenable(loaded)) {
          return Promise.resolve(loaded).then(
            (entities) => decideWith(plans, request, entities, req, auth),
            failed,
          )
        }
        return decideWith(plans, request, loaded, req, auth)
      } catch (error) {
        return failed(error)
      }
    },
  }

  function decideWith(
    plans: ContextPlans,
    planned: CedarRequest,
    loaded: unknown,
    req: RequestLike,
    auth: Auth,
  ): Decision {
    let request = planned
    try {
      // Read after the loader's wait, if any: a reload that finished meanwhile serves this request,
      // with the context its schema declares.
      const set = active
      if (set.plans !== plans) request = replan(settings, set.plans, request, req, auth)
      const versioned = isSnapshot(loaded) ? loaded : undefined
      let key: DecisionKey | undefined
      if (set.cache === undefined) checkRecord(request.context, 'context')
      else {
        // Checking and keying in one pass: a hit costs this, a lookup by hash, a comparison of the
        // whole key, and no wasm call. A request too big to key is checked and decided uncached. A
        // version stands for its entities, so a hit walks none of them.
        key = versioned ? versionedKey(request, versioned.version) : decisionKey(request, loaded)
        const hit = key === undefined ? undefined : set.cache.get(key.hash)
        if (hit !== undefined && key !== undefined && sameKey(hit.key, key)) return hit.decision
      }
      let entities: EntityJson[]
      let schemaName = set.schemaName
      if (versioned !== undefined) {
        const snapshot = snapshotFor(set, versioned.version, versioned.entities, set === active)
        if (snapshot.unrepresentable !== undefined) throw snapshot.unrepresentable
        if (snapshot.refused !== undefined) {
          const decision = decide({ type: 'failure', errors: [...snapshot.refused], warnings: [] })
          if (key !== undefined) set.cache?.set(key.hash, { key, decision })
          return decision
        }
        if (snapshot.nodes === undefined) entities = snapshot.entities
        else {
          entities = slice(snapshot, roots(request))
          schemaName = set.slicer(false)?.schemaName
        }
      } else entities = toEntities(loaded)
      const call: StatefulAuthorizationCall = {
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        context: request.context as Context,
        entities,
        preparsedPolicySetId:
          set.sets === undefined
            ? set.slot
            : (set.sets.named.get(entityKey(request.action.type, request.action.id)) ?? set.sets.rest),
        validateRequest: settings.validateRequest,
      }
      if (schemaName !== undefined) call.preparsedSchemaName = schemaName
      const decision = decide(evaluate(call))
      // Replaces an entry whose key shares the hash: the newer request is the likelier to come again.
      if (key !== undefined) set.cache?.set(key.hash, { key, decision })
      return decision
    } catch (error) {
      return failed(error)
    }
  }

  if (settings.debounceMs !== undefined) {
    const debounceMs = settings.debounceMs
    const onChange = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = setTimeout(() => {
        timer = undefined
        authorizer.reload().then(
          (result) => report(settings, result),
          (error: unknown) => report(settings, { ok: false, error: asError(error) }),
        )
      }, debounceMs)
      timer.unref()
    }
    for (const dir of watchTargets(settings.sources, settings.schema)) {
      const watcher = watch(dir, { persistent: false }, onChange)
      watcher.on('error', (error) => report(settings, { ok: false, error }))
      watchers.push(watcher)
    }
  }
  return authorizer
}

const noEntities: readonly never[] = Object.freeze([])

/** A version's snapshot, converted and checked on the first decision that names the version. */
function snapshotFor(
  set: ActiveSet,
  version: string | number,
  entities: unknown,
  serving: boolean,
): Snapshot {
  const snapshots = set.snapshots as LRUCache<string | number, Snapshot>
  let snapshot = snapshots.get(version)
  if (snapshot === undefined) {
    snapshot = snapshotOf(entities as readonly CedarEntity[], set.slicer(serving))
    snapshots.set(version, snapshot)
  }
  return snapshot
}

/** Where a slice starts: the principal, action and resource, and every entity the context names. */
function roots(request: CedarRequest): string[] {
  const keys = [
    entityKey(request.principal.type, request.principal.id),
    entityKey(request.action.type, request.action.id),
    entityKey(request.resource.type, request.resource.id),
  ]
  namesIn(request.context, keys)
  return keys
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function activate(
  slot: string,
  compiled: CompiledPolicies,
  plans: ContextPlans,
  settings: CedarAuthorizerSettings,
  setCounts: Map<string, number>,
): ActiveSet {
  preparse(slot, compiled)
  const sets = preparseByAction(slot, compiled, setCounts.get(slot) ?? 0)
  setCounts.set(slot, sets?.count ?? 0)
  // The key holds the time (in seconds) where the context carries it: entries would serve one second.
  const cached = settings.cacheMax !== undefined && (settings.cacheTimeVarying || !plans.time)
  const loads = settings.entities !== undefined
  let slicing: Slicer | undefined
  let built = !(loads && settings.slice)
  return Object.freeze({
    slot,
    compiled,
    ids: Object.freeze(Object.keys(compiled.policies)),
    schemaName: compiled.schema === undefined ? undefined : slot,
    plans,
    cache: cached ? new LRUCache<number, CachedDecision>({ max: settings.cacheMax as number }) : undefined,
    snapshots: loads ? new LRUCache<string | number, Snapshot>({ max: settings.maxVersions }) : undefined,
    slicer: (build: boolean) => {
      if (!built && build) {
        built = true
        slicing = slicer(slot, compiled.reads, compiled.schema)
      }
      return slicing
    },
    sets,
  })
}

/**
 * The plans of the compiled set's schema (without one, of what its policies read); those of `previous`
 * (the same object) when they are the same.
 */
function planContexts(
  compiled: CompiledPolicies,
  settings: CedarAuthorizerSettings,
  previous: ContextPlans | undefined,
): ContextPlans {
  const declared = contextPlans(compiled.schema, settings)
  const plans = compiled.schema === undefined ? readPlans(declared, compiled.reads) : declared
  return previous !== undefined && previous.key === plans.key ? previous : plans
}

function evaluate(call: StatefulAuthorizationCall): AuthorizationAnswer {
  try {
    return statefulIsAuthorized(call)
  } catch (cause) {
    // cedar-wasm throws (instead of answering `failure`) on input its deserializer cannot take.
    return {
      type: 'failure',
      errors: [
        {
          message: `the cedar engine refused the request (${cause instanceof Error ? cause.name : typeof cause})`,
          help: null,
          code: null,
          url: null,
          severity: null,
        },
      ],
      warnings: [],
    }
  }
}

const deniedMessage = 'the request is not allowed by policy'

function decide(answer: AuthorizationAnswer): Decision {
  if (answer.type === 'failure') {
    return Object.freeze({
      allowed: false,
      error: new ZeroTrustError('access_denied', deniedMessage, { reason: 'invalid_request' }),
      diagnostics: Object.freeze(answer.errors.map((error) => sanitize(error.message))),
    })
  }
  const { decision, diagnostics } = answer.response
  const policies = Object.freeze([...diagnostics.reason])
  if (diagnostics.errors.length > 0) {
    // Cedar skips a policy that errors; an erroring `forbid` would then let a `permit` through. Fail closed.
    return Object.freeze({
      allowed: false,
      error: new ZeroTrustError('access_denied', deniedMessage, { reason: 'denied_by_policy' }),
      policies,
      diagnostics: Object.freeze(
        diagnostics.errors.map(({ policyId, error }) => `policy "${policyId}": ${sanitize(error.message)}`),
      ),
    })
  }
  if (decision === 'allow') return Object.freeze({ allowed: true, policies })
  return Object.freeze({
    allowed: false,
    // One reason for a forbid, no permit and an erroring policy: the body must not tell them apart.
    error: new ZeroTrustError('access_denied', deniedMessage, { reason: 'denied_by_policy' }),
    policies,
  })
}

function failed(error: unknown): Decision {
  if (error instanceof UnrepresentableValue) {
    return Object.freeze({
      allowed: false,
      error: new ZeroTrustError('access_denied', deniedMessage, { reason: 'unrepresentable_value' }),
      diagnostics: Object.freeze([`${error.path} ${error.why}`]),
    })
  }
  if (error instanceof UnmappableRequest) {
    if (error.reason === 'no_route') {
      // A mounting mistake, not the client's: fail closed with a 500 the operator will see.
      throw new ZeroTrustError('internal_error', error.message, { reason: 'no_route' })
    }
    return Object.freeze({
      allowed: false,
      error: new ZeroTrustError('access_denied', deniedMessage, { reason: error.reason }),
      diagnostics: Object.freeze([error.message]),
    })
  }
  if (error instanceof ZeroTrustError) throw error
  // The entity loader (or an override) failed: our dependency, not the client's fault, and never open.
  throw new ZeroTrustError('dependency_unavailable', 'the policy data could not be loaded', {
    reason: 'entities_unavailable',
    cause: error,
  })
}

function report(settings: CedarAuthorizerSettings, result: ReloadResult): void {
  if (settings.onReload !== undefined) {
    const threw = () =>
      process.emitWarning('zerotrust: the cedar "onReload" callback threw', 'ZeroTrustWarning')
    try {
      // Called from the watcher's timer: an async callback's rejection would be unhandled (issue 12).
      const returned: unknown = settings.onReload(result)
      if (isThenable(returned)) returned.then(undefined, threw)
    } catch {
      threw()
    }
    return
  }
  if (!result.ok) {
    process.emitWarning(
      `zerotrust: cedar policies not reloaded, the old set keeps serving: ${result.error.message}`,
      'ZeroTrustWarning',
    )
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
