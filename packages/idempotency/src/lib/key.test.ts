import { describe, expect, it } from 'vitest'
import { parseIdempotencyKey } from './key.js'

const reason = (field: string, max = 255) => {
  try {
    parseIdempotencyKey(field, max)
  } catch (error) {
    return { code: (error as { code: string }).code, reason: (error as { reason: string }).reason }
  }
  return undefined
}

describe('parseIdempotencyKey (RFC 8941 sf-string)', () => {
  it('reads a quoted key, unescaping \\" and \\\\, around optional spaces', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"', 255)).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    )
    expect(parseIdempotencyKey(' "a\\"b\\\\c" ', 255)).toBe('a"b\\c')
    expect(parseIdempotencyKey('" spaced key "', 255)).toBe(' spaced key ')
  })

  it.each([
    ['an unquoted token', 'abc'],
    ['no closing quote', '"abc'],
    ['parameters after the string', '"abc";p=1'],
    ['two keys', '"a", "b"'],
    ['an escape of another character', '"a\\nb"'],
    ['a control character', '"a\tb"'],
    ['a non-ASCII character', '"clé"'],
    ['a byte string', ':YWJj:'],
  ])('refuses %s with 400 malformed_key', (_name, field) => {
    expect(reason(field)).toEqual({ code: 'invalid_idempotency_key', reason: 'malformed_key' })
  })

  it('refuses an empty key and a key over the length limit', () => {
    expect(reason('""')).toEqual({ code: 'invalid_idempotency_key', reason: 'empty_key' })
    expect(reason(`"${'k'.repeat(11)}"`, 10)).toEqual({
      code: 'invalid_idempotency_key',
      reason: 'key_too_long',
    })
    expect(parseIdempotencyKey(`"${'k'.repeat(10)}"`, 10)).toHaveLength(10)
    expect(reason(`"${'k'.repeat(100_000)}"`)).toEqual({
      code: 'invalid_idempotency_key',
      reason: 'key_too_long',
    })
  })
})
