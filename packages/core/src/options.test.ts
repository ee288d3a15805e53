import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { option, optionError, parseOptions } from './options.js'

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

  it('carries the mistake as data in the cause, as optionError does (issue 13)', () => {
    const error = catchError(() => parseOptions('f', schema, { nested: { max: -1 } }))
    expect(error.cause).toEqual({ factory: 'f', option: 'nested.max', rule: 'must be positive' })
  })
})

describe('optionError', () => {
  it('words a mistake checked by hand as parseOptions does (issue 13)', () => {
    const error = optionError('requireScopes', 'match', 'must be "all" or "any"')
    expect(error).toEqual(new TypeError('requireScopes: "match" option must be "all" or "any"'))
    expect(error.cause).toEqual({ factory: 'requireScopes', option: 'match', rule: 'must be "all" or "any"' })
    expect(optionError('f', undefined, 'must be an object').message).toBe('f: options must be an object')
  })
})

function catchError(run: () => unknown): TypeError {
  try {
    run()
  } catch (error) {
    if (error instanceof TypeError) return error
  }
  throw new Error('expected a TypeError')
}

describe('option schemas', () => {
  const check = (schema: z.ZodType, input: unknown) => () =>
    parseOptions('f', z.strictObject({ value: schema }), { value: input })

  it('words every integer rule as one sentence naming the bounds and the unit', () => {
    expect(check(option.positiveInteger(), 0)).toThrow(
      new TypeError('f: "value" option must be a positive integer'),
    )
    expect(check(option.positiveInteger(10), 11)).toThrow(
      new TypeError('f: "value" option must be a positive integer, at most 10'),
    )
    expect(check(option.integer(), -1)).toThrow(
      new TypeError('f: "value" option must be a non-negative integer'),
    )
    expect(check(option.milliseconds({ min: 1000 }), 999)).toThrow(
      new TypeError('f: "value" option must be an integer number of milliseconds, at least 1000'),
    )
    expect(check(option.seconds({ min: 10, max: 3600 }), 1)).toThrow(
      new TypeError('f: "value" option must be an integer number of seconds, from 10 to 3600'),
    )
    expect(check(option.fractionalSeconds(300), 301)).toThrow(
      new TypeError('f: "value" option must be a non-negative number of seconds, at most 300'),
    )
  })

  it('refuses fractions, NaN, infinities and numbers past the safe integers', () => {
    for (const value of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '5']) {
      expect(check(option.positiveInteger(), value)).toThrow(TypeError)
    }
    expect(check(option.fractionalSeconds(), Number.POSITIVE_INFINITY)).toThrow(TypeError)
    expect(check(option.fractionalSeconds(), 1.5)).not.toThrow()
  })

  it('takes https URLs, and plain http only on loopback', () => {
    expect(check(option.url(), 'https://idp.example.com/')).not.toThrow()
    expect(check(option.url(), 'http://127.0.0.1:8080/')).not.toThrow()
    expect(check(option.url(), 'http://127.attacker.example/')).toThrow(
      new TypeError('f: "value" option must be an https URL (plain http only on loopback)'),
    )
  })

  it('checks strings, booleans and functions', () => {
    expect(check(option.nonEmptyString(), '')).toThrow(
      new TypeError('f: "value" option must be a non-empty string'),
    )
    expect(check(option.boolean(), 'yes')).toThrow(new TypeError('f: "value" option must be a boolean'))
    expect(check(option.callable(), 'f')).toThrow(new TypeError('f: "value" option must be a function'))
    expect(check(option.callable('must be a fetch function'), {})).toThrow(
      /"value" option must be a fetch function/,
    )
  })

  it('keeps a renamed option working under its old name, but not both at once (issue 13)', () => {
    const schema = z
      .strictObject({ ttl: option.seconds().optional(), ttlSeconds: option.seconds().optional() })
      .superRefine(option.renamed({ ttl: 'ttlSeconds' }))
    expect(parseOptions('f', schema, { ttl: 5 })).toEqual({ ttl: 5 })
    expect(() => parseOptions('f', schema, { ttl: 5, ttlSeconds: 5 })).toThrow(
      new TypeError('f: "ttl" option is the deprecated name of "ttlSeconds": set only one'),
    )
    expect(() => parseOptions('f', schema, { ttl: -1 })).toThrow(
      /"ttl" option must be a non-negative integer/,
    )
  })
})
