import { preparsePolicySet } from '@cedar-policy/cedar-wasm/nodejs'
import type { CompiledPolicies } from './compile.js'
import { CedarPolicyError } from './sources.js'

/**
 * A policy set pre-parsed once per action, so a decision hands the engine the policies that can match
 * its action and not the whole set: the engine copies and scopes every policy of the set it is given on
 * each call (about 2.5 µs a policy on the benchmark machine, 2.4 ms for 1,000).
 */
export interface ActionSets {
  /** The pre-parsed set of each action some policy names with `==`, by the action's `entityKey`. */
  readonly named: ReadonlyMap<string, string>
  /** The pre-parsed set of every other action: the policies that may match any action. */
  readonly rest: string
  /** How many sets were pre-parsed under the slot besides `rest`, to free them on the next use of the slot. */
  readonly count: number
}

/**
 * The most copies of the policies that may match any action the sets hold, per policy of the set: each
 * such policy goes into every action's set, so a set with many of them and many actions is left whole.
 */
const maxCopiesPerPolicy = 10

/**
 * Pre-parses, under `slot`, one set per action the policies name with `==` (those policies and the ones
 * whose scope may match any action: `action`, `action in …`) and one for every other action.
 *
 * Exact: a policy whose scope says `action == A` is never satisfied by, and never errors on, a request
 * for another action (the scope is checked before the conditions, and a scope cannot error), so leaving
 * it out changes no decision, no determining policy and no error.
 *
 * `previous` is the count of sets the slot held before: those past this set's count are emptied, which
 * is how the engine frees them (it has no drop call).
 *
 * @returns the sets, or `undefined` where the whole set serves every action (no policy names an action
 * with `==`, or splitting would copy the others too often)
 * @throws CedarPolicyError when the engine refuses a set (the whole set parsed, so it should not)
 */
export function preparseByAction(
  slot: string,
  compiled: CompiledPolicies,
  previous: number,
): ActionSets | undefined {
  const byAction = compiled.byAction
  const total = Object.keys(compiled.policies).length
  let sets: ActionSets | undefined
  if (
    byAction !== undefined &&
    byAction.named.size > 0 &&
    byAction.named.size * byAction.any.length <= maxCopiesPerPolicy * total
  ) {
    const named = new Map<string, string>()
    let index = 0
    for (const [action, ids] of byAction.named) {
      const id = `${slot}~${index++}`
      load(id, compiled, [...ids, ...byAction.any])
      named.set(action, id)
    }
    const rest = `${slot}~rest`
    load(rest, compiled, byAction.any)
    sets = Object.freeze({ named, rest, count: index })
    // The whole set, pre-parsed under the slot to check it, serves no decision now: free it.
    preparsePolicySet(slot, { staticPolicies: {} })
  }
  for (let index = sets?.count ?? 0; index < previous; index++) {
    preparsePolicySet(`${slot}~${index}`, { staticPolicies: {} })
  }
  if (sets === undefined && previous > 0) preparsePolicySet(`${slot}~rest`, { staticPolicies: {} })
  return sets
}

function load(id: string, compiled: CompiledPolicies, ids: readonly string[]): void {
  const policies: Record<string, string> = {}
  for (const policyId of ids) policies[policyId] = compiled.policies[policyId] as string
  const answer = preparsePolicySet(id, { staticPolicies: policies })
  if (answer.type === 'failure') {
    throw new CedarPolicyError(answer.errors.map((error) => ({ file: 'policies', message: error.message })))
  }
}
