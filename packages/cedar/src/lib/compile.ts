import {
  type DetailedError,
  type PolicyJson,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  type Schema,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs'
import { entityKey, type PolicyReads, policyReads } from './reads.js'
import { CedarPolicyError, type PolicyProblem, type PolicyText, type SchemaInput } from './sources.js'

/** A parsed and validated policy set, not yet handed to the engine. */
export interface CompiledPolicies {
  /** Policy text by stable id, in source order. */
  readonly policies: Readonly<Record<string, string>>
  readonly schema: SchemaInput | undefined
  /** What the policies can read of the entities; `undefined` when some policy could not be read. */
  readonly reads: PolicyReads | undefined
  /**
   * The ids of the policies whose scope names one action with `==`, by that action's {@link entityKey},
   * and those of every other policy (`action`, `action in …`), which may match any action. `undefined`
   * when some policy could not be read.
   */
  readonly byAction:
    | { readonly named: ReadonlyMap<string, readonly string[]>; readonly any: readonly string[] }
    | undefined
  /** Equal fingerprints mean equal sources: a reload that changes nothing keeps the running set. */
  readonly fingerprint: string
}

interface Located {
  readonly id: string
  readonly text: string
  readonly file: string
  /** Byte offset of the policy in its file, where it could be found. */
  readonly offset: number | undefined
  readonly source: string
  readonly json: PolicyJson | undefined
}

/**
 * Splits, names, parses and (with a schema) validates policies. Every problem is collected, so one
 * failed start lists every broken policy. With `headAsGet` (the action type of the default mapping when
 * `HEAD` is decided as `GET`), a policy naming a `HEAD …` action of that type is a problem: it could
 * never match, and a `forbid` that never matches is a door left open.
 *
 * @throws CedarPolicyError listing each problem with its policy id, file, line and message
 */
export function compilePolicies(
  units: readonly PolicyText[],
  schema: SchemaInput | undefined,
  headAsGet?: string | undefined,
): CompiledPolicies {
  const problems: PolicyProblem[] = []
  const located: Located[] = []
  const seen = new Map<string, string>()
  for (const unit of units) {
    const parts = policySetTextToParts(unit.text)
    if (parts.type === 'failure') {
      for (const error of parts.errors) problems.push(problemAt(unit.name, unit.text, 0, undefined, error))
      continue
    }
    if (parts.policy_templates.length > 0) {
      problems.push({ file: unit.name, message: 'policy templates are not supported: write static policies' })
    }
    let cursor = 0
    for (const [index, text] of inSourceOrder(parts.policies).entries()) {
      const found = unit.text.indexOf(text, cursor)
      if (found >= 0) cursor = found + text.length
      const offset = found >= 0 ? Buffer.byteLength(unit.text.slice(0, found)) : undefined
      const json = policyJson(text)
      const id = annotatedId(json) ?? `${unit.name}#${index}`
      const previous = seen.get(id)
      if (previous !== undefined) {
        problems.push({
          ...lineOf(unit.text, offset),
          policyId: id,
          file: unit.name,
          message: `duplicate policy id, also used in "${previous}"`,
        })
        continue
      }
      seen.set(id, unit.name)
      if (headAsGet !== undefined && json !== undefined && namesHeadAction(json, headAsGet)) {
        problems.push({
          ...lineOf(unit.text, offset),
          policyId: id,
          file: unit.name,
          message:
            'names a "HEAD …" action, which "headAsGet" decides as the "GET …" action of the route: write the policy for GET, or set "headAsGet: false"',
        })
        continue
      }
      located.push({ id, text, file: unit.name, offset, source: unit.text, json })
    }
  }
  if (located.length === 0 && problems.length === 0) {
    problems.push({
      file: units[0]?.name ?? 'policies',
      message: 'no policies found: every request would be denied',
    })
  }
  if (problems.length > 0) throw new CedarPolicyError(problems)

  const policies: Record<string, string> = {}
  for (const policy of located) policies[policy.id] = policy.text
  if (schema !== undefined) {
    const answer = validate({
      schema: schema as Schema,
      policies: { staticPolicies: policies },
      validationSettings: { mode: 'strict' },
    })
    if (answer.type === 'failure') {
      for (const error of answer.errors) problems.push({ file: 'schema', message: error.message })
    } else {
      const byId = new Map(located.map((policy) => [policy.id, policy]))
      for (const { policyId, error } of answer.validationErrors) {
        const policy = byId.get(policyId)
        if (policy === undefined) problems.push({ policyId, file: 'schema', message: error.message })
        else problems.push(problemAt(policy.file, policy.source, policy.offset, policyId, error))
      }
    }
    if (problems.length > 0) throw new CedarPolicyError(problems)
  }
  return Object.freeze({
    policies: Object.freeze(policies),
    schema,
    reads: policyReads(located.map((policy) => policy.json)),
    byAction: byAction(located),
    fingerprint: JSON.stringify([policies, schema ?? null]),
  })
}

/**
 * Hands a compiled set to the engine under `slot`. The engine keeps one set per id and replaces it on
 * the next preparse under that id, which is how old sets are freed: there is no drop call.
 *
 * @throws CedarPolicyError when the engine refuses the set
 */
export function preparse(slot: string, compiled: CompiledPolicies): void {
  const problems: PolicyProblem[] = []
  if (compiled.schema !== undefined) {
    const answer = preparseSchema(slot, compiled.schema as Schema)
    if (answer.type === 'failure') {
      for (const error of answer.errors) problems.push({ file: 'schema', message: error.message })
    }
  }
  const answer = preparsePolicySet(slot, { staticPolicies: { ...compiled.policies } })
  if (answer.type === 'failure') {
    for (const error of answer.errors) problems.push({ file: 'policies', message: error.message })
  }
  if (problems.length > 0) throw new CedarPolicyError(problems)
}

function byAction(located: readonly Located[]): CompiledPolicies['byAction'] {
  const named = new Map<string, string[]>()
  const any: string[] = []
  for (const policy of located) {
    if (policy.json === undefined) return undefined
    const action = policy.json.action
    const entity = action.op === '==' && 'entity' in action ? action.entity : undefined
    const uid = entity !== undefined && '__entity' in entity ? entity.__entity : entity
    if (uid === undefined) any.push(policy.id)
    else {
      const key = entityKey(uid.type, uid.id)
      const ids = named.get(key)
      if (ids === undefined) named.set(key, [policy.id])
      else ids.push(policy.id)
    }
  }
  return { named, any }
}

// policySetTextToParts returns the policies sorted by their generated ids as strings (`policy0`,
// `policy1`, `policy10`, `policy2`…): put them back in the order of the source.
function inSourceOrder(parts: readonly string[]): string[] {
  const ids = parts.map((_, index) => `policy${index}`).sort()
  const ordered = new Array<string>(parts.length)
  for (const [position, id] of ids.entries()) ordered[Number(id.slice(6))] = parts[position] as string
  return ordered
}

function policyJson(text: string): PolicyJson | undefined {
  const answer = policyToJson(text)
  return answer.type === 'success' ? answer.json : undefined
}

function annotatedId(json: PolicyJson | undefined): string | undefined {
  const id = json?.annotations?.id
  return typeof id === 'string' && id.trim() !== '' ? id : undefined
}

/**
 * Whether the policy names an entity `{ type: actionType, id: "HEAD …" }` anywhere: in its scope or in a
 * condition (`action == Action::"HEAD /x"`, `action in [...]`). Walked with a stack: a policy's
 * expressions can nest deeper than the call stack.
 */
function namesHeadAction(json: PolicyJson, actionType: string): boolean {
  const stack: unknown[] = [json]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value !== 'object' || value === null) continue
    const { type, id } = value as { type?: unknown; id?: unknown }
    if (type === actionType && typeof id === 'string' && id.startsWith('HEAD ')) return true
    for (const inner of Object.values(value)) stack.push(inner)
  }
  return false
}

function problemAt(
  file: string,
  source: string,
  base: number | undefined,
  policyId: string | undefined,
  error: DetailedError,
): PolicyProblem {
  const start = error.sourceLocations?.[0]?.start
  const offset = base === undefined || start === undefined ? undefined : base + start
  const message = error.help ? `${error.message} (${error.help})` : error.message
  return {
    ...lineOf(source, offset),
    ...(policyId === undefined ? {} : { policyId }),
    file,
    message,
  }
}

// cedar-wasm reports byte offsets into the text it was given.
function lineOf(source: string, byteOffset: number | undefined): { line?: number; column?: number } {
  if (byteOffset === undefined) return {}
  const before = Buffer.from(source).subarray(0, byteOffset).toString('utf8')
  const lines = before.split('\n')
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 }
}
