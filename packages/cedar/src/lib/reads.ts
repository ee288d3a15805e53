import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs'

/**
 * What a policy set can read of the entities, for slicing them: every attribute name any policy reads
 * (`e.name`, `e["name"]`, `e has name`, `e has a.b`), whether any policy reads tags (`getTag`,
 * `hasTag`), and every entity the policies name as a literal (`Group::"admins"`, scope constraints).
 *
 * Over-approximated on purpose: a name is kept for every entity type, and anything shaped like an entity
 * reference counts as one. Cedar has no other way to reach an attribute (no reflection, no computed
 * attribute names), so an attribute outside `attributes` is never read by any policy.
 */
export interface PolicyReads {
  readonly attributes: ReadonlySet<string>
  readonly tags: boolean
  /**
   * Whether some policy uses `context` otherwise than to read an attribute of it (`context == {…}`,
   * `[context]`): its attributes then all count.
   */
  readonly wholeContext: boolean
  /** The entities named as literals, as {@link entityKey}s. */
  readonly literals: readonly string[]
}

/**
 * The reads of a policy set. `undefined` when a policy could not be read as JSON: the set is then not
 * sliced at all.
 */
export function policyReads(policies: readonly (PolicyJson | undefined)[]): PolicyReads | undefined {
  const attributes = new Set<string>()
  const literals = new Set<string>()
  let tags = false
  // Every `context`, and those that are the record an attribute is read from.
  let contexts = 0
  let contextReads = 0
  // Walked with a stack: a policy's expressions can nest deeper than the call stack.
  const stack: unknown[] = []
  for (const policy of policies) {
    if (policy === undefined) return undefined
    stack.push(policy)
  }
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value !== 'object' || value === null) continue
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item)
      continue
    }
    const node = value as Record<string, unknown>
    if (node.Var === 'context') contexts++
    const { type, id } = node
    if (typeof type === 'string' && typeof id === 'string') literals.add(entityKey(type, id))
    for (const key in node) {
      const inner = node[key]
      if (key === '.' || key === 'has') {
        const { attr, left } = (inner ?? {}) as { attr?: unknown; left?: { Var?: unknown } | null }
        if (left?.Var === 'context') contextReads++
        if (typeof attr === 'string') attributes.add(attr)
        else if (Array.isArray(attr))
          for (const name of attr) if (typeof name === 'string') attributes.add(name)
      } else if (key === 'getTag' || key === 'hasTag') tags = true
      stack.push(inner)
    }
  }
  return Object.freeze({
    attributes,
    tags,
    wholeContext: contexts > contextReads,
    literals: Object.freeze([...literals]),
  })
}

/** One string per entity reference: the type's length, the type, the id (no two references share one). */
export function entityKey(type: string, id: string): string {
  return `${type.length}:${type}${id}`
}
