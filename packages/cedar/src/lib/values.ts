import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs'
import type { CedarEntity, EntityRef } from './options.js'

/**
 * A value Cedar cannot represent, found before it reaches the engine (where a `bigint` throws out of
 * wasm, `NaN` turns into `null`, and 2^60 silently loses precision). `path` names where it sits, such as
 * `context.amount` or `entities[2].attrs.total`; the value itself is never quoted.
 */
export class UnrepresentableValue extends Error {
  override readonly name = 'UnrepresentableValue'
  constructor(
    public path: string,
    readonly why: string,
  ) {
    super(`${path} ${why}`)
  }

  /** Puts `prefix` in front of the path, as the error leaves a nested value. */
  under(prefix: string): this {
    this.path = prefix + this.path
    this.message = `${this.path} ${this.why}`
    return this
  }
}

// Paths are built only when a value is refused: on the cached path, building `context.a.b` strings for
// every value would cost more than the checks.
function within(error: unknown, prefix: string): unknown {
  return error instanceof UnrepresentableValue ? error.under(prefix) : error
}

const maxDepth = 32

/**
 * The most a decision key may weigh: one per token plus the length of each string. A request over it is
 * decided without the cache, so a huge context or entity slice cannot make a huge entry (about 300 for a
 * request with a handful of scopes and four entities).
 */
export const maxKeySize = 16_384

/**
 * A structural mark of a decision key. Marks are objects and every value token is a string, number or
 * boolean, so no value can equal (fake) a mark; `bits` feed the hash.
 */
interface Mark {
  readonly name: string
  readonly bits: number
}

function mark(name: string, bits: number): Mark {
  return Object.freeze({ name, bits })
}

const openRecord = mark('{', 1)
const openSet = mark('[', 2)
const close = mark('}', 3)
const entityRef = mark('__entity', 4)
const entityMark = mark('entity', 5)
const attrsMark = mark('attrs', 6)
const parentsMark = mark('parents', 7)
const tagsMark = mark('tags', 8)
const versionMark = mark('version', 12)

/**
 * A decision cache's key: every input of one Cedar request written as a sequence of tokens (strings,
 * integers, booleans and structural marks), in the order a walk of the inputs meets them. Every record,
 * set, entity and entity reference is opened by its own mark (and the variable-length ones closed), so a
 * sequence reads back into one request only: two keys with equal tokens ({@link sameKey}) are the same
 * request, and two requests that differ in any value have different tokens. Order counts: a record or
 * set written in another order is another key (a miss, never a wrong answer).
 *
 * `hash` only finds the entry; the tokens decide.
 */
export interface DecisionKey {
  readonly tokens: readonly unknown[]
  readonly hash: number
}

/** What a decision key is made of. */
export interface KeyedRequest {
  readonly principal: EntityRef
  readonly action: EntityRef
  readonly resource: EntityRef
  readonly context: unknown
}

/**
 * Checks a request's context and entities as the engine will take them and writes its
 * {@link DecisionKey} in the same pass. The entity references must be checked already (`checkRef`).
 *
 * @returns the key, or `undefined` when it would weigh more than {@link maxKeySize} (the request is still
 * checked whole)
 * @throws UnrepresentableValue naming the path
 */
export function decisionKey(request: KeyedRequest, entities: unknown): DecisionKey | undefined {
  const walk = walkRequest(request)
  walk.entities(entities)
  return keyOf(walk)
}

/**
 * Checks a request's context and writes its {@link DecisionKey} with the version of a loader's entities
 * in place of the entities: one version always comes with the same entities, so a hit costs the same
 * whatever their number.
 *
 * @returns the key, or `undefined` when it would weigh more than {@link maxKeySize}
 * @throws UnrepresentableValue naming the path
 */
export function versionedKey(request: KeyedRequest, version: string | number): DecisionKey | undefined {
  const walk = walkRequest(request)
  walk.version(version)
  return keyOf(walk)
}

/** A walk that has checked and written the principal, action, resource and context of `request`. */
function walkRequest(request: KeyedRequest): Walk {
  const walk = new Walk()
  walk.whole(request.principal.type)
  walk.whole(request.principal.id)
  walk.whole(request.action.type)
  walk.whole(request.action.id)
  walk.whole(request.resource.type)
  walk.whole(request.resource.id)
  walk.record(request.context, 'context')
  return walk
}

/** The walk's key, or `undefined` when it weighs more than {@link maxKeySize}. */
function keyOf(walk: Walk): DecisionKey | undefined {
  const { tokens, hash, chars } = walk
  return tokens.length + chars > maxKeySize ? undefined : { tokens, hash }
}

/** Whether two decision keys are the same request: every token equal (`===`). */
export function sameKey(a: DecisionKey, b: DecisionKey): boolean {
  const x = a.tokens
  const y = b.tokens
  if (x.length !== y.length) return false
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}

const fnvPrime = 0x01000193

/**
 * One walk over values as Cedar reads them: refuses what the engine cannot represent and writes each
 * value's tokens.
 *
 * `hash` is a 32-bit FNV-1a of the tokens, to find a key's entry. The leading entity references are hashed
 * whole (they tell most requests apart); any other string by its length and first, middle and last
 * character, so a hit hashes no long string. Keys that share a hash evict each other: fewer hits, never a
 * wrong one.
 */
class Walk {
  readonly tokens: unknown[] = []
  hash = 0x811c9dc5
  /** The length of every string written, for the key's weight. */
  chars = 0

  /** Checks a record of Cedar values, such as the context, and writes it. */
  record(record: unknown, path: string): void {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new UnrepresentableValue(path, 'must be a record')
    }
    try {
      this.value(record, 0)
    } catch (error) {
      throw within(error, path)
    }
  }

  /** Checks the loader's entities as {@link toEntities} does and writes them. */
  entities(entities: unknown): void {
    if (!Array.isArray(entities)) throw new UnrepresentableValue('entities', 'must be an array')
    this.mark(openSet)
    for (let index = 0; index < entities.length; index++) {
      try {
        this.entity(entities[index])
      } catch (error) {
        throw within(error, `entities[${index}]`)
      }
    }
    this.mark(close)
  }

  /** Writes the version of a loader's entities, after its own mark. */
  version(version: string | number): void {
    this.mark(versionMark)
    if (typeof version === 'string') this.whole(version)
    else {
      this.hash = Math.imul(this.hash ^ version ^ ((version / 0x100000000) | 0), fnvPrime)
      this.write(version)
    }
  }

  /** Writes a string hashed whole: the principal's, action's and resource's. */
  whole(value: string): void {
    let hash = Math.imul(this.hash ^ value.length, fnvPrime)
    for (let i = 0; i < value.length; i++) hash = Math.imul(hash ^ value.charCodeAt(i), fnvPrime)
    this.hash = hash
    this.chars += value.length
    this.write(value)
  }

  private string(value: string): void {
    const n = value.length
    const bits =
      n === 0
        ? 0
        : n ^ (value.charCodeAt(0) << 8) ^ (value.charCodeAt(n >> 1) << 16) ^ (value.charCodeAt(n - 1) << 24)
    this.hash = Math.imul(this.hash ^ bits, fnvPrime)
    this.chars += n
    this.write(value)
  }

  private mark(mark: Mark): void {
    this.hash = Math.imul(this.hash ^ mark.bits, fnvPrime)
    this.write(mark)
  }

  private write(token: unknown): void {
    this.tokens.push(token)
  }

  private ref(ref: unknown, path: string): void {
    if (!isEntityRef(ref)) throw notEntityRef(path)
    this.string(ref.type)
    this.string(ref.id)
  }

  private entity(entity: unknown): void {
    if (typeof entity !== 'object' || entity === null) {
      throw new UnrepresentableValue('', 'must be an entity { uid, attrs, parents }')
    }
    const { uid, attrs, parents, tags } = entity as CedarEntity
    this.mark(entityMark)
    this.ref(uid, '.uid')
    if (attrs !== undefined) {
      this.mark(attrsMark)
      this.record(attrs, '.attrs')
    }
    if (parents !== undefined) {
      if (!Array.isArray(parents)) throw new UnrepresentableValue('.parents', 'must be an array')
      this.mark(parentsMark)
      for (let i = 0; i < parents.length; i++) {
        try {
          this.ref(parents[i], '')
        } catch (error) {
          throw within(error, `.parents[${i}]`)
        }
      }
    }
    if (tags !== undefined) {
      this.mark(tagsMark)
      this.record(tags, '.tags')
    }
    this.mark(close)
  }

  private value(value: unknown, depth: number): void {
    if (depth > maxDepth) throw new UnrepresentableValue('', `is nested deeper than ${maxDepth} levels`)
    switch (typeof value) {
      case 'string':
        this.string(value)
        return
      case 'boolean':
        this.hash = Math.imul(this.hash ^ (value ? 9 : 10), fnvPrime)
        this.write(value)
        return
      case 'number':
        if (!Number.isInteger(value)) {
          throw new UnrepresentableValue('', 'is not an integer (cedar has no fractions, NaN or infinities)')
        }
        if (!Number.isSafeInteger(value)) {
          throw new UnrepresentableValue('', 'is an integer beyond ±(2^53 - 1), which would lose precision')
        }
        this.hash = Math.imul(this.hash ^ value ^ ((value / 0x100000000) | 0), fnvPrime)
        this.write(value)
        return
      case 'bigint':
        throw new UnrepresentableValue('', 'is a bigint: pass a safe integer or a string')
      case 'object': {
        if (value === null) throw new UnrepresentableValue('', 'is null, which cedar does not allow')
        if (Array.isArray(value)) {
          this.mark(openSet)
          for (let i = 0; i < value.length; i++) {
            try {
              this.value(value[i], depth + 1)
            } catch (error) {
              throw within(error, `[${i}]`)
            }
          }
          this.mark(close)
          return
        }
        const proto = Object.getPrototypeOf(value)
        if (proto !== Object.prototype && proto !== null) {
          throw new UnrepresentableValue('', 'is not a plain object, array, string, boolean or integer')
        }
        if ('__entity' in value) {
          // Exactly one enumerable member, as `Object.keys` would count it, without building the array.
          let members = 0
          let others = false
          for (const key in value) {
            members++
            if (key !== '__entity') others = true
          }
          if (others || members !== 1) {
            throw new UnrepresentableValue('', 'is an entity reference with other members than "__entity"')
          }
          this.mark(entityRef)
          this.ref((value as { __entity: unknown }).__entity, '.__entity')
          return
        }
        this.mark(openRecord)
        for (const key in value) {
          this.string(key)
          try {
            this.value((value as Record<string, unknown>)[key], depth + 1)
          } catch (error) {
            throw within(error, `.${key}`)
          }
        }
        this.mark(close)
        return
      }
      default:
        throw new UnrepresentableValue('', `is a ${typeof value}, which cedar cannot represent`)
    }
  }
}

/**
 * Checks an entity reference: `{ type, id }` with a non-empty type and a string id.
 *
 * @throws UnrepresentableValue naming the path
 */
export function checkRef(ref: unknown, path: string): EntityRef {
  if (!isEntityRef(ref)) throw notEntityRef(path)
  return { type: ref.type, id: ref.id }
}

function isEntityRef(ref: unknown): ref is EntityRef {
  return (
    typeof ref === 'object' &&
    ref !== null &&
    typeof (ref as EntityRef).type === 'string' &&
    (ref as EntityRef).type !== '' &&
    typeof (ref as EntityRef).id === 'string'
  )
}

function notEntityRef(path: string): UnrepresentableValue {
  return new UnrepresentableValue(path, 'must be an entity reference { type, id } with string fields')
}

/**
 * Checks the loader's entities and shapes them as cedar-wasm takes them.
 *
 * @throws UnrepresentableValue naming the entity and attribute
 */
export function toEntities(entities: unknown): EntityJson[] {
  if (!Array.isArray(entities)) throw new UnrepresentableValue('entities', 'must be an array')
  const out: EntityJson[] = []
  for (const [index, entity] of (entities as unknown[]).entries()) {
    const path = `entities[${index}]`
    if (typeof entity !== 'object' || entity === null) {
      throw new UnrepresentableValue(path, 'must be an entity { uid, attrs, parents }')
    }
    const { uid, attrs, parents, tags } = entity as CedarEntity
    const json: EntityJson = { uid: checkRef(uid, `${path}.uid`), attrs: {}, parents: [] }
    if (attrs !== undefined) {
      checkRecord(attrs, `${path}.attrs`)
      json.attrs = attrs as EntityJson['attrs']
    }
    if (parents !== undefined) {
      if (!Array.isArray(parents)) throw new UnrepresentableValue(`${path}.parents`, 'must be an array')
      json.parents = parents.map((parent, i) => checkRef(parent, `${path}.parents[${i}]`))
    }
    if (tags !== undefined) {
      checkRecord(tags, `${path}.tags`)
      json.tags = tags as NonNullable<EntityJson['tags']>
    }
    out.push(json)
  }
  return out
}

/**
 * Checks a record of Cedar values, such as the context.
 *
 * @throws UnrepresentableValue naming the path
 */
export function checkRecord(record: unknown, path: string): void {
  new Walk().record(record, path)
}
