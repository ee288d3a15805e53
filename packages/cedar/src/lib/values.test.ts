import { describe, expect, it } from 'vitest'
import type { EntityRef } from './options.js'
import { DecisionKey, UnrepresentableValue } from './values.js'

const alice: EntityRef = { type: 'User', id: 'alice' }
const read: EntityRef = { type: 'Action', id: 'GET /orders/:id' }
const order: EntityRef = { type: 'Order', id: 'o-1' }

function keyOf(context: unknown, entities: unknown = [], principal: EntityRef = alice): DecisionKey {
  const key = new DecisionKey()
  key.start()
  key.ref(principal)
  key.ref(read)
  key.ref(order)
  key.record(context, 'context')
  key.entities(entities)
  return key
}

function refusal(context: unknown, entities: unknown = []): string {
  try {
    keyOf(context, entities)
  } catch (error) {
    if (error instanceof UnrepresentableValue) return error.message
    throw error
  }
  throw new Error('expected a refusal')
}

describe('DecisionKey', () => {
  it('matches the same inputs built from other objects', () => {
    const build = () =>
      keyOf({ scopes: ['a', 'b'], n: 42, flag: true, owner: { __entity: { type: 'User', id: 'alice' } } }, [
        {
          uid: { type: 'Order', id: 'o-1' },
          attrs: { total: 4200 },
          parents: [{ type: 'Tenant', id: 'acme' }],
          tags: { t: 'x' },
        },
      ])
    const first = build()
    const second = build()
    expect(second.hash).toBe(first.hash)
    expect(second.matches(first.snapshot())).toBe(true)
  })

  // Each pair is two different Cedar requests: their keys must never match, whatever their hashes.
  const pairs: [string, unknown, unknown, unknown?, unknown?][] = [
    ['a string and the integer it spells', { v: '1' }, { v: 1 }],
    ['a boolean and a string', { v: true }, { v: 'T' }],
    ['two strings and their concatenation', { v: ['a', 'b'] }, { v: ['ab'] }],
    ['a key boundary moved', { ab: 'c' }, { a: 'bc' }],
    ['a record and a set of its members', { v: { a: 'b' } }, { v: ['a', 'b'] }],
    ['an entity reference and a record of the same fields', { v: { __entity: alice } }, { v: { x: alice } }],
    ['an empty set and an empty record', { v: [] }, { v: {} }],
    ['a nested set and a flat one', { v: [['a'], 'b'] }, { v: ['a', ['b']] }],
    ['0 and 1', { v: 0 }, { v: 1 }],
    ['2^32 and 0', { v: 2 ** 32 }, { v: 0 }],
    ['values that look like marks', { v: '{' }, { v: {} }],
    [
      'same context, other entity attribute',
      {},
      {},
      [{ uid: order, attrs: { total: 1 } }],
      [{ uid: order, attrs: { total: 2 } }],
    ],
    ['attributes and tags', {}, {}, [{ uid: order, attrs: { a: 'b' } }], [{ uid: order, tags: { a: 'b' } }]],
    ['a parent and none', {}, {}, [{ uid: order, parents: [alice] }], [{ uid: order, parents: [] }]],
    ['two entities and one', {}, {}, [{ uid: order }, { uid: alice }], [{ uid: order }]],
    [
      'an entity split differently',
      {},
      {},
      [{ uid: order, parents: [alice] }],
      [{ uid: order }, { uid: alice }],
    ],
  ]
  it.each(pairs)('tells apart %s', (_, contextA, contextB, entitiesA = [], entitiesB = []) => {
    const a = keyOf(contextA, entitiesA)
    const b = keyOf(contextB, entitiesB)
    expect(a.matches(b.snapshot())).toBe(false)
    expect(b.matches(a.snapshot())).toBe(false)
  })

  it('tells apart principals whose strings join the same', () => {
    const a = keyOf({}, [], { type: 'User', id: 'ab' })
    const b = keyOf({}, [], { type: 'Usera', id: 'b' })
    expect(a.matches(b.snapshot())).toBe(false)
  })

  it('tells apart two inputs whose sampled hashes collide', () => {
    // Same length, first, middle and last character: one hash, two requests.
    const a = keyOf({ v: 'aXbYc' })
    const b = keyOf({ v: 'aZbWc' })
    expect(b.hash).toBe(a.hash)
    expect(a.matches(b.snapshot())).toBe(false)
  })

  it('is reusable: a shorter key after a longer one does not match the longer', () => {
    const key = keyOf({ v: ['a', 'b', 'c'] })
    const long = key.snapshot()
    key.start()
    key.ref(alice)
    key.ref(read)
    key.ref(order)
    key.record({ v: ['a'] }, 'context')
    key.entities([])
    expect(key.matches(long)).toBe(false)
    expect(keyOf({ v: ['a'] }).matches(key.snapshot())).toBe(true)
  })

  it('refuses what cedar cannot represent, naming where it is', () => {
    let deep: unknown = 'x'
    for (let i = 0; i < 33; i++) deep = [deep]
    expect(refusal({ deep })).toBe(`context.deep${'[0]'.repeat(32)} is nested deeper than 32 levels`)
    expect(refusal({ v: { __entity: alice, extra: 'x' } })).toBe(
      'context.v is an entity reference with other members than "__entity"',
    )
    const hidden = Object.defineProperty({}, '__entity', { value: alice, enumerable: false })
    expect(refusal({ v: hidden })).toBe('context.v is an entity reference with other members than "__entity"')
    expect(refusal({ v: { __entity: { type: '', id: 'x' } } })).toBe(
      'context.v.__entity must be an entity reference { type, id } with string fields',
    )
    expect(refusal({}, [{ uid: order, parents: [alice, { type: 'Group' }] }])).toBe(
      'entities[0].parents[1] must be an entity reference { type, id } with string fields',
    )
    expect(refusal({}, [{ uid: order, tags: { n: 1.5 } }])).toBe(
      'entities[0].tags.n is not an integer (cedar has no fractions, NaN or infinities)',
    )
    expect(refusal({}, { length: 0 })).toBe('entities must be an array')
    expect(refusal([])).toBe('context must be a record')
    expect(refusal({ f: () => 1 })).toBe('context.f is a function, which cedar cannot represent')
  })

  it('accepts a value 32 levels below the record', () => {
    let deep: unknown = 'x'
    for (let i = 0; i < 31; i++) deep = [deep]
    expect(() => keyOf({ deep })).not.toThrow()
  })
})
