import { describe, expect, it } from 'vitest'
import { parseIdempotencyKey } from './key.js'

const reason = (field: string, max = 255, format: 'sf-string' | 'lenient' = 'sf-string') => {
  try {
    parseIdempotencyKey(field, max, format)
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
    ['no closing quote', '"abc'],
    ['parameters after the string', '"abc";p=1'],
    ['two keys', '"a", "b"'],
    ['an escape of another character', '"a\\nb"'],
    ['a control character', '"a\tb"'],
    ['a non-ASCII character', '"clé"'],
    ['a byte string', ':YWJj:'],
    ['a bare key with a space', 'a b'],
    ['a bare joined list', 'a,b'],
    ['a bare key with a parameter', 'a;p=1'],
    ['a bare non-ASCII key', 'clé'],
  ])('refuses %s with 400 malformed_key', (_name, field) => {
    expect(reason(field)).toEqual({ code: 'invalid_idempotency_key', reason: 'malformed_key' })
  })

  it('refuses a bare key that would be valid quoted as key_not_quoted, with the quoted form in the detail (issue 20)', () => {
    for (const bare of ['8e03978e-40d5-43e8-bc93-6894a57f9324', 'abc', 'order:42/retry']) {
      expect(reason(bare)).toEqual({ code: 'invalid_idempotency_key', reason: 'key_not_quoted' })
    }
    try {
      parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324', 255)
      expect.unreachable()
    } catch (error) {
      // The detail shows the form to send, and never echoes the client's key.
      expect((error as Error).message).toContain('"<key>"')
      expect((error as Error).message).not.toContain('8e03978e')
    }
    expect(reason('k'.repeat(11), 10)).toEqual({ code: 'invalid_idempotency_key', reason: 'key_too_long' })
  })

  it("reads a bare key as its quoted form's key with keyFormat 'lenient', and nothing looser (issue 20)", () => {
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324', 255, 'lenient')).toBe(
      parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"', 255, 'lenient'),
    )
    expect(parseIdempotencyKey(' abc ', 255, 'lenient')).toBe('abc')
    for (const field of ['a b', 'a,b', 'a;p=1', 'clé', '"abc', 'a"b', 'a\\b']) {
      expect(reason(field, 255, 'lenient')).toEqual({
        code: 'invalid_idempotency_key',
        reason: 'malformed_key',
      })
    }
    expect(reason('k'.repeat(11), 10, 'lenient')).toEqual({
      code: 'invalid_idempotency_key',
      reason: 'key_too_long',
    })
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

describe('parseIdempotencyKey on adversarial input (issue 12)', () => {
  const size = 64 * 1024
  const fill = (unit: string, length = size) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length)
  // Each shaped to make a backtracking trim or a naive scan slow: runs of whitespace that end in
  // something else, unclosed quotes, escapes, and mixes of them.
  const shapes = (length: number): [string, string][] => [
    ['spaces', fill(' ', length)],
    ['tabs', fill('\t', length)],
    ['spaces then a character', `${fill(' ', length - 1)}x`],
    ['a quote, spaces, a character', `"${fill(' ', length - 3)}x"`],
    ['a quote, tabs and spaces, a character', `"${fill(' \t', length - 3)}x"`],
    ['spaces around a key', `${fill(' ', length / 2 - 3)}"k"${fill(' ', length / 2)}`],
    ['quotes', fill('"', length)],
    ['escaped quotes', `"${fill('\\"', length - 2)}"`],
    ['escaped backslashes, unclosed', `"${fill('\\\\', length - 1)}`],
    ['a dangling escape', `"${fill('\\', length - 1)}`],
    ['quote and space mixes', fill('" \t\\', length)],
    ['a key, then parameters', `"k";${fill('p=1;', length - 4)}`],
  ]

  // The best of three runs: a bound on the parser, not on the scheduler of a loaded machine. The
  // quadratic trim took 94 ms for 16,000 spaces and 1.5 s for 64,000.
  const fastest = (run: () => void) => {
    let best = Number.POSITIVE_INFINITY
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      run()
      best = Math.min(best, performance.now() - started)
    }
    return best
  }

  it.each([
    ['the default limit', 255],
    ['the largest limit', 8192],
  ])('refuses each 64 KiB shape with 400 within a few ms, at %s', (_name, max) => {
    for (const [shape, field] of shapes(size)) {
      let outcome: ReturnType<typeof reason> | 'accepted' = 'accepted'
      const took = fastest(() => {
        outcome = reason(field, max) ?? 'accepted'
      })
      expect(outcome, shape).toMatchObject({ code: 'invalid_idempotency_key' })
      expect(took, shape).toBeLessThan(10)
    }
  })

  it('reads each shape as long as the largest limit lets through within a few ms, never throwing anything else', () => {
    for (const [shape, field] of shapes(2 * 8192 + 2)) {
      let outcome: unknown
      const took = fastest(() => {
        try {
          outcome = parseIdempotencyKey(field, 8192)
        } catch (error) {
          outcome = error
        }
      })
      // 8192 escaped quotes are a valid key; everything else is a 400.
      if (typeof outcome !== 'string') {
        expect(outcome, shape).toMatchObject({ code: 'invalid_idempotency_key', status: 400 })
      }
      expect(took, shape).toBeLessThan(10)
    }
  })

  it('reads a key padded with at most 64 characters of whitespace, and refuses more', () => {
    expect(parseIdempotencyKey(`${' '.repeat(32)}"k"\t${' '.repeat(31)}`, 255)).toBe('k')
    expect(reason(`${' '.repeat(33)}"k"${' '.repeat(32)}`)).toEqual({
      code: 'invalid_idempotency_key',
      reason: 'malformed_key',
    })
    expect(reason(`${' '.repeat(1000)}"k"`)).toEqual({
      code: 'invalid_idempotency_key',
      reason: 'key_too_long',
    })
  })
})
