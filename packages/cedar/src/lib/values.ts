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
 * Checks that `value` is something Cedar can hold exactly: strings, booleans, integers within
 * ±(2^53 - 1) (Cedar's `Long` is 64-bit, JavaScript numbers are exact only this far), arrays, plain
 * records, `__entity` references and `__extn` values.
 *
 * @throws UnrepresentableValue naming the path
 */
export function checkValue(value: unknown, path: string): void {
  encodeValue(value, path, 0)
}

/**
 * Checks `value` as {@link checkValue} does and encodes it, in one pass, for the decision cache's key.
 * The encoding is injective (strings carry their length, so no content can fake a delimiter): two
 * values with one encoding are the same Cedar value.
 *
 * @throws UnrepresentableValue naming the path
 */
export function encodeValue(value: unknown, path: string, depth: number): string {
  try {
    return encode(value, depth)
  } catch (error) {
    throw within(error, path)
  }
}

function encode(value: unknown, depth: number): string {
  if (depth > maxDepth) throw new UnrepresentableValue('', `is nested deeper than ${maxDepth} levels`)
  switch (typeof value) {
    case 'string':
      return `${value.length}"${value}`
    case 'boolean':
      return value ? 'T' : 'F'
    case 'number':
      if (!Number.isInteger(value)) {
        throw new UnrepresentableValue('', 'is not an integer (cedar has no fractions, NaN or infinities)')
      }
      if (!Number.isSafeInteger(value)) {
        throw new UnrepresentableValue('', 'is an integer beyond ±(2^53 - 1), which would lose precision')
      }
      return `${value};`
    case 'bigint':
      throw new UnrepresentableValue('', 'is a bigint: pass a safe integer or a string')
    case 'object': {
      if (value === null) throw new UnrepresentableValue('', 'is null, which cedar does not allow')
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++) {
          try {
            out += `${encode(value[i], depth + 1)},`
          } catch (error) {
            throw within(error, `[${i}]`)
          }
        }
        return `${out}]`
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw new UnrepresentableValue('', 'is not a plain object, array, string, boolean or integer')
      }
      if ('__entity' in value) {
        if (Object.keys(value).length !== 1) {
          throw new UnrepresentableValue('', 'is an entity reference with other members than "__entity"')
        }
        return `E${encodeRef(checkRef((value as { __entity: unknown }).__entity, '.__entity'))}`
      }
      let out = '{'
      for (const key in value) {
        try {
          out += `${key.length}"${key}${encode((value as Record<string, unknown>)[key], depth + 1)}`
        } catch (error) {
          throw within(error, `.${key}`)
        }
      }
      return `${out}}`
    }
    default:
      throw new UnrepresentableValue('', `is a ${typeof value}, which cedar cannot represent`)
  }
}

/** An entity reference's encoding for cache keys. */
export function encodeRef(ref: EntityRef): string {
  return `${ref.type.length}"${ref.type}${ref.id.length}"${ref.id}`
}

/**
 * Checks the loader's entities as {@link toEntities} does and encodes them, for the decision cache's key.
 *
 * @throws UnrepresentableValue naming the entity and attribute
 */
export function encodeEntities(entities: unknown): string {
  if (!Array.isArray(entities)) throw new UnrepresentableValue('entities', 'must be an array')
  let out = '['
  for (let index = 0; index < entities.length; index++) {
    try {
      out += encodeEntity(entities[index])
    } catch (error) {
      throw within(error, `entities[${index}]`)
    }
  }
  return `${out}]`
}

function encodeEntity(entity: unknown): string {
  if (typeof entity !== 'object' || entity === null) {
    throw new UnrepresentableValue('', 'must be an entity { uid, attrs, parents }')
  }
  const { uid, attrs, parents, tags } = entity as CedarEntity
  let out = `{${encodeRef(checkRef(uid, '.uid'))}`
  if (attrs !== undefined) out += `a${encodeRecord(attrs, '.attrs')}`
  if (parents !== undefined) {
    if (!Array.isArray(parents)) throw new UnrepresentableValue('.parents', 'must be an array')
    out += 'p['
    for (let i = 0; i < parents.length; i++) {
      try {
        out += encodeRef(checkRef(parents[i], ''))
      } catch (error) {
        throw within(error, `.parents[${i}]`)
      }
    }
    out += ']'
  }
  if (tags !== undefined) out += `t${encodeRecord(tags, '.tags')}`
  return `${out}}`
}

/**
 * Checks a record of Cedar values, such as the context, and encodes it.
 *
 * @throws UnrepresentableValue naming the path
 */
export function encodeRecord(record: unknown, path: string): string {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new UnrepresentableValue(path, 'must be a record')
  }
  return encodeValue(record, path, 0)
}

/**
 * Checks an entity reference: `{ type, id }` with a non-empty type and a string id.
 *
 * @throws UnrepresentableValue naming the path
 */
export function checkRef(ref: unknown, path: string): EntityRef {
  if (
    typeof ref !== 'object' ||
    ref === null ||
    typeof (ref as EntityRef).type !== 'string' ||
    (ref as EntityRef).type === '' ||
    typeof (ref as EntityRef).id !== 'string'
  ) {
    throw new UnrepresentableValue(path, 'must be an entity reference { type, id } with string fields')
  }
  return { type: (ref as EntityRef).type, id: (ref as EntityRef).id }
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
  encodeRecord(record, path)
}
