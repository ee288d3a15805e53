import { type ContextPlan, type ContextPlans, contextPlans } from './context-plan.js'
import type { EntityRef } from './options.js'
import type { PolicyReads } from './reads.js'

/**
 * Without a schema, the default context carries only the attributes some policy reads: the engine
 * parses every context attribute on every call (a record such as `token` or `params` about 11 µs on the
 * benchmark machine), so each one no policy reads is time for nothing.
 *
 * Exact: the default attributes are strings, booleans, integers and records of them, which never fail
 * to parse, and a policy reaches a context attribute only by its name (`context.token`, `context has
 * time`), so leaving out one no policy names changes no decision. Where some policy uses the context as
 * a whole (`context == {…}`), every attribute is kept. With a schema, the schema's declarations decide
 * (see `contextPlans`): the engine checks the context against them.
 *
 * The attributes of the `context` option are never left out: their values come from the application,
 * and one the engine refuses must still deny.
 */
export function readPlans(plans: ContextPlans, reads: PolicyReads | undefined): ContextPlans {
  if (reads === undefined || reads.wholeContext) return plans
  const { attributes } = reads
  // The plan that carries nothing says how each member leaves its attribute out (false, undefined).
  const absent = contextPlans(undefined, { defaultContext: false, time: false }).forAction({
    type: 'Action',
    id: '',
  }) as unknown as Readonly<Record<string, unknown>>
  const trimmed = new Map<ContextPlan, ContextPlan>()
  const trim = (plan: ContextPlan): ContextPlan => {
    let kept = trimmed.get(plan)
    if (kept === undefined) {
      // Each member of a plan is named as the attribute it sets. `scopes` stays: its bounds
      // ("maxScopes", "maxScopeLength") refuse a token whatever the policies read.
      const members: Record<string, unknown> = {}
      for (const [name, value] of Object.entries(plan)) {
        members[name] = name === 'scopes' || attributes.has(name) ? value : absent[name]
      }
      kept = Object.freeze(members) as unknown as ContextPlan
      trimmed.set(plan, kept)
    }
    return kept
  }
  return Object.freeze({
    forAction: (action: EntityRef) => trim(plans.forAction(action)),
    time: plans.time && attributes.has('time'),
    key: `${plans.key}:read:${[...attributes].sort().join('\u0000')}`,
  })
}
