// Issue 12 (reliability suite): the Idempotency-Key parser, fed hostile and 64 KiB adversarial field
// values. Nothing may escape but a 400 `invalid_idempotency_key`, and each value is parsed within a time
// bound. The trim regex the parser replaced took 9 s on 64,000 spaces; this suite fails on it (2.6 s for
// one key). Properties do not shrink (`endOnFailure`): shrinking a slow parser's input holds CI for
// minutes.
import { isZeroTrustError } from '@zerotrust/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseIdempotencyKey } from './key.js'

const boundMs = 100
const size = 64 * 1024

// Parses within the bound; a slow run is retried four times, so a pause of a loaded machine is no failure.
function parseFast(field: string, maxLength: number): string | undefined {
  for (let attempt = 0; ; attempt++) {
    const started = performance.now()
    let parsed: string | undefined
    try {
      parsed = parseIdempotencyKey(field, maxLength)
    } catch (thrown) {
      if (!isZeroTrustError(thrown)) throw thrown
      expect({ code: thrown.code, status: thrown.status }).toEqual({
        code: 'invalid_idempotency_key',
        status: 400,
      })
    }
    const took = performance.now() - started
    if (took < boundMs) return parsed
    if (attempt === 4) expect.fail(`${took.toFixed(1)} ms for one Idempotency-Key`)
  }
}

const nasty = [' ', '\t', ' \t', '"', '\\', '\\"', '\\\\', '""', 'a', ';', '=', ',', '\u00e9']
const adversarial = fc
  .tuple(fc.constantFrom('', '"', ' "', '\t'), fc.constantFrom(...nasty), fc.constantFrom('', '"', 'x', ' '))
  .map(([prefix, unit, tail]) => `${prefix}${unit.repeat(Math.ceil(size / unit.length))}${tail}`)
const hostile = fc.oneof(
  fc.string({ maxLength: 300, unit: 'binary' }),
  fc.string({ maxLength: 300, unit: 'binary-ascii' }),
)
const maxLength = fc.constantFrom(1, 64, 255, 8192)

describe('fuzz: parseIdempotencyKey (issue 12)', () => {
  it('parses any field value to a key of printable ASCII within the length, or refuses it with a 400', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, adversarial), maxLength, (field, max) => {
        const key = parseFast(field, max)
        if (key !== undefined) {
          expect(key.length).toBeGreaterThan(0)
          expect(key.length).toBeLessThanOrEqual(max)
          expect(key).toMatch(/^[\x20-\x7e]+$/)
        }
      }),
      { numRuns: 300, endOnFailure: true },
    )
  })

  it('reads back every key written as an RFC 8941 sf-string, with padding', () => {
    const key = fc.string({
      minLength: 1,
      maxLength: 255,
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    })
    fc.assert(
      fc.property(key, fc.constantFrom('', ' ', '\t', '  '), (k, pad) => {
        const field = `${pad}"${k.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"${pad}`
        expect(parseFast(field, 255)).toBe(k)
      }),
      { numRuns: 200, endOnFailure: true },
    )
  })
})
