import {
  checkParseEntities,
  type DetailedError,
  type EntityJson,
  preparseSchema,
  type Schema,
  schemaToJson,
} from '@cedar-policy/cedar-wasm/nodejs'
import type { CedarEntity, EntitySnapshot } from './options.js'
import { entityKey, type PolicyReads } from './reads.js'
import type { SchemaInput } from './sources.js'
import { toEntities, UnrepresentableValue } from './values.js'

/** The longest version string a loader may name. */
export const maxVersionLength = 256

/**
 * How one policy set slices the entities of a versioned loader: what its policies read, and under which
 * preparsed schema a slice is decided.
 */
export interface Slicer {
  readonly reads: PolicyReads
  /**
   * The preparsed schema a slice is decided under: with attributes left out, one where every entity
   * attribute is optional (the whole version was checked against the real schema once).
   */
  readonly schemaName: string | undefined
  /** Whether the attributes and tags of an entity of this type may be left out of a slice. */
  readonly trims: (type: string) => boolean
  /** The schema a version is checked against, whole, once. */
  readonly schema: SchemaInput | undefined
}

/**
 * The slicer of a policy set pre-parsed under `slot`, or `undefined` when its policies could not all be
 * read (the entities are then sent whole).
 */
export function slicer(
  slot: string,
  reads: PolicyReads | undefined,
  schema: SchemaInput | undefined,
): Slicer | undefined {
  if (reads === undefined) return undefined
  if (schema === undefined) return Object.freeze({ reads, schemaName: undefined, trims: always, schema })
  const relaxed = relaxedSchema(schema)
  if (relaxed !== undefined && preparseSchema(`${slot}-sliced`, relaxed.json as Schema).type === 'success') {
    const { trimmed } = relaxed
    return Object.freeze({
      reads,
      schemaName: `${slot}-sliced`,
      trims: (type: string) => trimmed.has(type),
      schema,
    })
  }
  // The entities are still sliced, with every attribute of the entities sent.
  return Object.freeze({ reads, schemaName: slot, trims: never, schema })
}

const always = () => true
const never = () => false

/**
 * The schema with every attribute of every entity type optional, and the entity types this covers (those
 * whose shape is written in place, or that have none). A shape named through a common type is left
 * alone, and its entities keep every attribute.
 */
function relaxedSchema(
  schema: SchemaInput,
): { readonly json: Record<string, unknown>; readonly trimmed: ReadonlySet<string> } | undefined {
  const answer = schemaToJson(schema as Schema)
  if (answer.type === 'failure') return undefined
  const json = structuredClone(answer.json) as unknown as Record<
    string,
    { entityTypes?: Record<string, { shape?: { type?: unknown; attributes?: Record<string, object> } }> }
  >
  const trimmed = new Set<string>()
  for (const [namespace, definition] of Object.entries(json)) {
    for (const [name, entityType] of Object.entries(definition.entityTypes ?? {})) {
      const shape = entityType.shape
      if (shape !== undefined) {
        if (shape.type !== 'Record' || shape.attributes === undefined) continue
        for (const [attribute, type] of Object.entries(shape.attributes)) {
          shape.attributes[attribute] = { ...type, required: false }
        }
      }
      trimmed.add(namespace === '' ? name : `${namespace}::${name}`)
    }
  }
  return { json, trimmed }
}

/** One entity of a sliced version. */
interface Node {
  /** The entity with only the attributes (and tags) the policies read. */
  readonly read: EntityJson
  /** The entity with its parents only: what an ancestor needs for `in`, when nothing reads its data. */
  readonly ancestor: EntityJson
  /** The entities its kept attributes and tags name. */
  readonly names: readonly string[]
  readonly parents: readonly string[]
}

/** A loader's version, converted and checked once. */
export interface Snapshot {
  /** Every entity, as the engine takes them: what a decision sends without slicing. */
  readonly entities: EntityJson[]
  /** The entities by key, for slicing; `undefined` without a slicer. */
  readonly nodes: ReadonlyMap<string, Node> | undefined
  /** The entities the policies name that this version holds: every slice starts from them. */
  readonly literals: readonly string[]
  /** Why the version cannot serve: a value Cedar cannot represent. */
  readonly unrepresentable: UnrepresentableValue | undefined
  /** Why the version cannot serve: the engine refused the entities. */
  readonly refused: readonly DetailedError[] | undefined
}

/**
 * Checks a loader's result for a snapshot shape: `{ version, entities }`.
 *
 * @throws UnrepresentableValue when the version is not a non-empty string of at most
 * {@link maxVersionLength} characters or a safe integer
 */
export function isSnapshot(loaded: unknown): loaded is EntitySnapshot {
  if (Array.isArray(loaded) || typeof loaded !== 'object' || loaded === null || !('version' in loaded)) {
    return false
  }
  const { version } = loaded as { version: unknown }
  if (
    typeof version === 'string'
      ? version.length > 0 && version.length <= maxVersionLength
      : Number.isSafeInteger(version)
  ) {
    return true
  }
  throw new UnrepresentableValue(
    'entities.version',
    `must be a non-empty string of at most ${maxVersionLength} characters or a safe integer`,
  )
}

/**
 * Converts and checks a version's entities once. With a slicer, the engine checks the whole version
 * against the schema (each entity, duplicates, cycles of parents), so a slice that leaves out an entity
 * or attribute never lets through what the whole set would have refused.
 */
export function snapshotOf(entities: readonly CedarEntity[], slicing: Slicer | undefined): Snapshot {
  let converted: EntityJson[]
  try {
    converted = toEntities(entities)
  } catch (error) {
    if (!(error instanceof UnrepresentableValue)) throw error
    return failedSnapshot(error, undefined)
  }
  if (slicing === undefined) {
    return Object.freeze({
      entities: converted,
      nodes: undefined,
      literals: [],
      unrepresentable: undefined,
      refused: undefined,
    })
  }
  const check = checkParseEntities(
    slicing.schema === undefined
      ? { entities: converted }
      : { entities: converted, schema: slicing.schema as Schema },
  )
  if (check.type === 'failure') return failedSnapshot(undefined, check.errors)
  const nodes = new Map<string, Node>()
  for (const entity of converted) {
    const uid = entity.uid as { type: string; id: string }
    nodes.set(entityKey(uid.type, uid.id), node(entity, uid.type, slicing))
  }
  return Object.freeze({
    entities: converted,
    nodes,
    literals: Object.freeze(slicing.reads.literals.filter((key) => nodes.has(key))),
    unrepresentable: undefined,
    refused: undefined,
  })
}

function failedSnapshot(
  unrepresentable: UnrepresentableValue | undefined,
  refused: readonly DetailedError[] | undefined,
): Snapshot {
  return Object.freeze({ entities: [], nodes: undefined, literals: [], unrepresentable, refused })
}

// Action entities are never trimmed: with a schema, the engine wants each exactly as the schema has it.
function isAction(type: string): boolean {
  return type === 'Action' || type.endsWith('::Action')
}

function node(entity: EntityJson, type: string, slicing: Slicer): Node {
  const parents = entity.parents.map((parent) => {
    const { type, id } = parent as { type: string; id: string }
    return entityKey(type, id)
  })
  if (!slicing.trims(type) || isAction(type)) {
    const names: string[] = []
    namesIn(entity.attrs, names)
    if (entity.tags !== undefined) namesIn(entity.tags, names)
    return Object.freeze({ read: entity, ancestor: entity, names, parents })
  }
  const { attributes, tags: readsTags } = slicing.reads
  const attrs: EntityJson['attrs'] = {}
  for (const name in entity.attrs) {
    if (attributes.has(name)) attrs[name] = entity.attrs[name] as EntityJson['attrs'][string]
  }
  const read: EntityJson = { uid: entity.uid, attrs, parents: entity.parents }
  if (readsTags && entity.tags !== undefined) read.tags = entity.tags
  const names: string[] = []
  namesIn(read.attrs, names)
  if (read.tags !== undefined) namesIn(read.tags, names)
  return Object.freeze({
    read,
    ancestor: { uid: entity.uid, attrs: {}, parents: entity.parents },
    names,
    parents,
  })
}

/**
 * Adds the key of every entity reference in `value`: `{ __entity: { type, id } }`, and (as the schema
 * lets a reference be written) any `{ type, id }` record of strings, which at worst sends one entity
 * more.
 */
export function namesIn(value: unknown, into: string[]): void {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (typeof item !== 'object' || item === null) continue
    if (Array.isArray(item)) {
      for (const inner of item) stack.push(inner)
      continue
    }
    const { type, id } = item as { type?: unknown; id?: unknown }
    if (typeof type === 'string' && typeof id === 'string') into.push(entityKey(type, id))
    for (const key in item) stack.push((item as Record<string, unknown>)[key])
  }
}

/**
 * The entities of one decision: those reachable from `roots` (the principal, action, resource and the
 * entities the context names) and the version's {@link Snapshot.literals}, through the attributes and
 * tags the policies read, with what they read; and the ancestors of each, with their parents only.
 */
export function slice(snapshot: Snapshot, roots: readonly string[]): EntityJson[] {
  const nodes = snapshot.nodes as ReadonlyMap<string, Node>
  const read = new Set<string>()
  const pending = [...roots, ...snapshot.literals]
  const ancestors: string[] = []
  const out: EntityJson[] = []
  while (pending.length > 0) {
    const key = pending.pop() as string
    if (read.has(key)) continue
    read.add(key)
    const found = nodes.get(key)
    if (found === undefined) continue
    out.push(found.read)
    for (const name of found.names) pending.push(name)
    for (const parent of found.parents) ancestors.push(parent)
  }
  const seen = new Set<string>()
  while (ancestors.length > 0) {
    const key = ancestors.pop() as string
    if (read.has(key) || seen.has(key)) continue
    seen.add(key)
    const found = nodes.get(key)
    if (found === undefined) continue
    out.push(found.ancestor)
    for (const parent of found.parents) ancestors.push(parent)
  }
  return out
}
