import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { parseOptions } from './options.js'

const schema = z.strictObject({
  timeout: z.number({ error: 'must be a number' }).optional(),
  nested: z.strictObject({ max: z.number().int().positive({ error: 'must be positive' }) }).optional(),
})

describe('parseOptions', () => {
  it('returns the parsed options', () => {
    expect(parseOptions('f', schema, { timeout: 5 })).toEqual({ timeout: 5 })
  })

  it('throws a TypeError naming the option', () => {
    expect(() => parseOptions('f', schema, { timeout: '5' })).toThrow(
      new TypeError('f: "timeout" option must be a number'),
    )
    expect(() => parseOptions('f', schema, { nested: { max: -1 } })).toThrow(
      new TypeError('f: "nested.max" option must be positive'),
    )
  })

  it('names an unknown option, so a typo fails at startup', () => {
    expect(() => parseOptions('f', schema, { timeuot: 5 })).toThrow(
      new TypeError('f: "timeuot" option is not recognized'),
    )
  })

  it('rejects options that are not an object', () => {
    expect(() => parseOptions('f', schema, 'x')).toThrow(TypeError)
  })
})
