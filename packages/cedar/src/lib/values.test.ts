import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { EntityRef } from './options.js'
import {
  checkRecord,
  type DecisionKey,
  decisionKey,
  maxKeySize,
  sameKey,
  UnrepresentableValue,
} from './values.js'

const alice: EntityRef = { type: 'User', id: 'alice' }
const read: EntityRef = { type: 'Action', id: 'GET /orders/:id' }
const order: EntityRef = { type: 'Order', id: 'o-1' }

function keyOf(context: unknown, entities: unknown = [], principal: EntityRef = alice): DecisionKey {
  const key = decisionKey({ principal, action: read, resource: order, context }, entities)
  if (key === undefined) throw new Error('expected a key under the bound')
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
    expect(sameKey(second, first)).toBe(true)
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
    expect(sameKey(a, b)).toBe(false)
    expect(sameKey(b, a)).toBe(false)
  })

  it('tells apart principals whose strings join the same', () => {
    const a = keyOf({}, [], { type: 'User', id: 'ab' })
    const b = keyOf({}, [], { type: 'Usera', id: 'b' })
    expect(sameKey(a, b)).toBe(false)
  })

  it('tells apart two inputs whose sampled hashes collide', () => {
    // Same length, first, middle and last character: one hash, two requests.
    const a = keyOf({ v: 'aXbYc' })
    const b = keyOf({ v: 'aZbWc' })
    expect(b.hash).toBe(a.hash)
    expect(sameKey(a, b)).toBe(false)
  })

  it('tells apart a key and a shorter one whose tokens it starts with', () => {
    const long = keyOf({ v: ['a', 'b', 'c'] })
    const short = keyOf({ v: ['a'] })
    expect(sameKey(short, long)).toBe(false)
    expect(sameKey(long, short)).toBe(false)
    expect(sameKey(keyOf({ v: ['a'] }), short)).toBe(true)
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

// Issue 13: the key is the walk's tokens, checkable at a glance. These guard what the hash-free reading
// of it promises: equal keys exactly for equal inputs, and no key past the bound.
describe('decisionKey (issue 13)', () => {
  // A tiny domain, so that random pairs often share values or differ in one place only, with the pieces
  // a naive concatenation would confuse: "a|b" and "a" "b", 1 and "1", a set and a record, nesting.
  const text = fc.constantFrom('', 'a', 'b', '1', 'a|b', 'ab', '{', ':')
  const ref = fc.record({ type: fc.constantFrom('A', 'A:B'), id: text })
  const { record } = fc.letrec((tie) => ({
    value: fc.oneof(
      { maxDepth: 3, depthSize: 'small' },
      text,
      fc.constantFrom(0, 1, -1, 2 ** 32, 2 ** 53 - 1),
      fc.boolean(),
      fc.array(tie('value'), { maxLength: 2 }),
      tie('record'),
      ref.map((entity) => ({ __entity: entity })),
    ),
    record: fc.dictionary(fc.constantFrom('a', 'b', 'a|b', '1'), tie('value'), { maxKeys: 2 }),
  }))
  const entity = fc.record(
    { uid: ref, attrs: record, parents: fc.array(ref, { maxLength: 2 }), tags: record },
    { requiredKeys: ['uid'] },
  )
  const input = fc.record({
    principal: ref,
    action: ref,
    resource: ref,
    context: record,
    entities: fc.array(entity, { maxLength: 2 }),
  })
  type Input = typeof input extends fc.Arbitrary<infer T> ? T : never
  // Values that a naive key would confuse, put in the same place (in the context or an entity's
  // attributes, under the same member, at the same depth) of one request.
  const twins = fc.constantFrom<[unknown, unknown]>(
    [1, '1'],
    [true, 'true'],
    [0, false],
    ['a|b', ['a', 'b']],
    [['ab'], ['a', 'b']],
    [{ a: 'b' }, ['a', 'b']],
    [[], {}],
    [
      ['a', ['b']],
      [['a'], 'b'],
    ],
    [{ a: { a: 'b' }, b: 'b' }, { a: { a: 'b', b: 'b' } }],
    [[{ __entity: { type: 'A', id: 'a' } }], ['A', 'a']],
    [{ __entity: { type: 'A', id: 'a' } }, { a: { type: 'A', id: 'a' } }],
    [{ __entity: { type: 'A', id: 'a|b' } }, { __entity: { type: 'A|a', id: 'b' } }],
    [2 ** 32, 0],
  )
  const twinned = fc
    .tuple(input, twins, fc.constantFrom('a', 'b'), fc.nat(2), fc.boolean())
    .map(([base, [x, y], member, depth, inEntity]): [Input, Input] => {
      const put = (leaf: unknown): Input => {
        let v = leaf
        for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v }
        const holder = { ...base.context, [member]: v } as Input['context']
        return inEntity
          ? { ...base, entities: [...base.entities, { uid: { type: 'A', id: 'a' }, attrs: holder }] }
          : { ...base, context: holder }
      }
      return [put(x), put(y)]
    })
  const pairs = fc.oneof(
    twinned,
    fc.tuple(input, input),
    // The same request built from other objects (and without null prototypes).
    input.map((a): [Input, Input] => [a, structuredClone(a)]),
    // Requests that share all but the context, or all but the entities.
    fc.tuple(input, input).map(([a, b]): [Input, Input] => [a, { ...a, context: b.context }]),
    fc.tuple(input, input).map(([a, b]): [Input, Input] => [a, { ...a, entities: b.entities }]),
  )
  // The oracle: JSON text, which tells apart 1 and "1", sets and records, and keeps members in order.
  const json = ({ principal, action, resource, context, entities }: Input) =>
    JSON.stringify([principal, action, resource, context, entities])
  const key = ({ entities, ...request }: Input) => {
    const made = decisionKey(request, entities)
    if (made === undefined) throw new Error('expected a key under the bound')
    return made
  }

  it('gives two inputs the same key exactly when they are equal', () => {
    fc.assert(
      fc.property(pairs, ([a, b]) => {
        const ka = key(a)
        const kb = key(b)
        expect(sameKey(ka, kb)).toBe(json(a) === json(b))
        if (sameKey(ka, kb)) expect(ka.hash).toBe(kb.hash)
      }),
      { numRuns: 5000, endOnFailure: true },
    )
  })

  it('keys a set or record written in another order apart: a miss, never a wrong hit', () => {
    expect(sameKey(keyOf({ v: ['a', 'b'] }), keyOf({ v: ['b', 'a'] }))).toBe(false)
    expect(sameKey(keyOf({ a: 1, b: 2 }), keyOf({ b: 2, a: 1 }))).toBe(false)
  })

  it('keys no request over the bound, and still checks it whole', () => {
    expect(keyOf({ v: 'x'.repeat(maxKeySize - 100) })).toBeDefined()
    const request = { principal: alice, action: read, resource: order }
    expect(decisionKey({ ...request, context: { v: 'x'.repeat(maxKeySize) } }, [])).toBeUndefined()
    expect(decisionKey({ ...request, context: { v: new Array(maxKeySize).fill(true) } }, [])).toBeUndefined()
    const many = Array.from({ length: maxKeySize }, (_, i) => ({ uid: { type: 'Order', id: `o-${i}` } }))
    expect(decisionKey({ ...request, context: {} }, many)).toBeUndefined()
    // What follows the bound is still refused.
    expect(() => decisionKey({ ...request, context: { v: 'x'.repeat(maxKeySize), n: 1.5 } }, [])).toThrow(
      'context.n is not an integer',
    )
    expect(() => decisionKey({ ...request, context: {} }, [...many, { uid: { type: '' } }])).toThrow(
      `entities[${maxKeySize}].uid must be an entity reference`,
    )
  })

  it('checks a record without keying it', () => {
    expect(() => checkRecord({ a: ['b', { c: 1 }] }, 'context')).not.toThrow()
    expect(() => checkRecord({ a: [1.5] }, 'context')).toThrow('context.a[0] is not an integer')
  })
})
