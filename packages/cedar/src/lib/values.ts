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

// Structural marks of a decision key: symbols, which no string, number or boolean equals, so no value can
// fake one and a sequence of tokens reads back one way only.
const openRecord = Symbol('{')
const openSet = Symbol('[')
const close = Symbol('}')
const entityRef = Symbol('__entity')
const entityMark = Symbol('entity')
const attrsMark = Symbol('attrs')
const parentsMark = Symbol('parents')
const tagsMark = Symbol('tags')

/**
 * A decision cache's key, filled while the values are checked: the sequence of every input's tokens
 * (strings, integers, booleans and structural marks, in order) and a 32-bit hash of it to find an entry.
 * Two keys with equal token sequences (compared with `===`, {@link matches}) are the same Cedar request,
 * so a hit is exact whatever the hash does: a collision only costs a miss.
 *
 * Nothing is built but an array of references: no string concatenation and no string hashing, which a
 * key string of a few hundred characters paid on every hit. The hash reads the three entity references
 * (principal, action, resource) whole and samples the other strings (length, first, middle and last
 * character), so requests that differ only in a long string's inner characters share a hash and evict
 * each other: fewer hits, never a wrong one.
 */
export class DecisionKey {
  /** The tokens; entries from {@link length} on are left over from an earlier key. */
  readonly tokens: unknown[] = []
  length = 0
  hash = 0

  /** Empties the key for reuse. */
  start(): void {
    this.length = 0
    this.hash = 0x811c9dc5
  }

  /** Adds a checked entity reference (the request's principal, action or resource), hashed whole. */
  ref(ref: EntityRef): void {
    this.push(ref.type)
    this.hash = hashWhole(this.hash, ref.type)
    this.push(ref.id)
    this.hash = hashWhole(this.hash, ref.id)
  }

  /**
   * Checks a record of Cedar values, such as the context, and adds it.
   *
   * @throws UnrepresentableValue naming the path
   */
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

  /**
   * Checks the loader's entities as {@link toEntities} does and adds them.
   *
   * @throws UnrepresentableValue naming the entity and attribute
   */
  entities(entities: unknown): void {
    if (!Array.isArray(entities)) throw new UnrepresentableValue('entities', 'must be an array')
    this.mark(openSet, 1)
    for (let index = 0; index < entities.length; index++) {
      try {
        this.entity(entities[index])
      } catch (error) {
        throw within(error, `entities[${index}]`)
      }
    }
    this.mark(close, 2)
  }

  /** Whether `tokens` (a stored key's {@link snapshot}) is this key. */
  matches(tokens: readonly unknown[]): boolean {
    const length = this.length
    if (tokens.length !== length) return false
    const own = this.tokens
    for (let i = 0; i < length; i++) if (own[i] !== tokens[i]) return false
    return true
  }

  /** The tokens, copied for storing. */
  snapshot(): readonly unknown[] {
    return this.tokens.slice(0, this.length)
  }

  private push(token: unknown): void {
    this.tokens[this.length++] = token
  }

  private mark(mark: symbol, code: number): void {
    this.tokens[this.length++] = mark
    this.hash = Math.imul(this.hash ^ code, fnvPrime)
  }

  private string(value: string): void {
    this.tokens[this.length++] = value
    const n = value.length
    this.hash = Math.imul(
      this.hash ^
        n ^
        (n === 0
          ? 0
          : (value.charCodeAt(0) << 8) ^ (value.charCodeAt(n >> 1) << 16) ^ (value.charCodeAt(n - 1) << 24)),
      fnvPrime,
    )
  }

  private checkedRef(ref: unknown, path: string): void {
    if (!isEntityRef(ref)) throw notEntityRef(path)
    this.string(ref.type)
    this.string(ref.id)
  }

  private entity(entity: unknown): void {
    if (typeof entity !== 'object' || entity === null) {
      throw new UnrepresentableValue('', 'must be an entity { uid, attrs, parents }')
    }
    const { uid, attrs, parents, tags } = entity as CedarEntity
    this.mark(entityMark, 3)
    this.checkedRef(uid, '.uid')
    if (attrs !== undefined) {
      this.mark(attrsMark, 4)
      this.record(attrs, '.attrs')
    }
    if (parents !== undefined) {
      if (!Array.isArray(parents)) throw new UnrepresentableValue('.parents', 'must be an array')
      this.mark(parentsMark, 5)
      for (let i = 0; i < parents.length; i++) {
        try {
          this.checkedRef(parents[i], '')
        } catch (error) {
          throw within(error, `.parents[${i}]`)
        }
      }
    }
    if (tags !== undefined) {
      this.mark(tagsMark, 6)
      this.record(tags, '.tags')
    }
    this.mark(close, 2)
  }

  private value(value: unknown, depth: number): void {
    if (depth > maxDepth) throw new UnrepresentableValue('', `is nested deeper than ${maxDepth} levels`)
    switch (typeof value) {
      case 'string':
        this.string(value)
        return
      case 'boolean':
        this.tokens[this.length++] = value
        this.hash = Math.imul(this.hash ^ (value ? 7 : 8), fnvPrime)
        return
      case 'number':
        if (!Number.isInteger(value)) {
          throw new UnrepresentableValue('', 'is not an integer (cedar has no fractions, NaN or infinities)')
        }
        if (!Number.isSafeInteger(value)) {
          throw new UnrepresentableValue('', 'is an integer beyond ±(2^53 - 1), which would lose precision')
        }
        this.tokens[this.length++] = value
        this.hash = Math.imul(this.hash ^ value ^ ((value / 0x100000000) | 0), fnvPrime)
        return
      case 'bigint':
        throw new UnrepresentableValue('', 'is a bigint: pass a safe integer or a string')
      case 'object': {
        if (value === null) throw new UnrepresentableValue('', 'is null, which cedar does not allow')
        if (Array.isArray(value)) {
          this.mark(openSet, 1)
          for (let i = 0; i < value.length; i++) {
            try {
              this.value(value[i], depth + 1)
            } catch (error) {
              throw within(error, `[${i}]`)
            }
          }
          this.mark(close, 2)
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
          this.mark(entityRef, 9)
          this.checkedRef((value as { __entity: unknown }).__entity, '.__entity')
          return
        }
        this.mark(openRecord, 10)
        for (const key in value) {
          this.string(key)
          try {
            this.value((value as Record<string, unknown>)[key], depth + 1)
          } catch (error) {
            throw within(error, `.${key}`)
          }
        }
        this.mark(close, 2)
        return
      }
      default:
        throw new UnrepresentableValue('', `is a ${typeof value}, which cedar cannot represent`)
    }
  }
}

const fnvPrime = 0x01000193

function hashWhole(hash: number, value: string): number {
  let h = Math.imul(hash ^ value.length, fnvPrime)
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), fnvPrime)
  return h
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
  new DecisionKey().record(record, path)
}
