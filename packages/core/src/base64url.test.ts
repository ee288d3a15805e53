import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCanonicalBase64url } from './base64url.js'

describe('isCanonicalBase64url (issue 12)', () => {
  it('accepts what Node encodes, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(isCanonicalBase64url(Buffer.from(bytes).toString('base64url'))).toBe(true)
      }),
    )
  })

  it('refuses every other spelling of the same bytes (non-zero unused trailing bits)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.integer({ min: 1, max: 15 }),
        (bytes, bits) => {
          const canonical = Buffer.from(bytes).toString('base64url')
          const unused = canonical.length % 4 === 2 ? 0b1111 : canonical.length % 4 === 3 ? 0b11 : 0
          fc.pre(unused !== 0 && (bits & unused) !== 0)
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
          const last = alphabet.indexOf(canonical.at(-1) as string)
          const sibling = `${canonical.slice(0, -1)}${alphabet[last | (bits & unused)]}`
          // Node decodes the sibling to the same bytes: only the check tells them apart.
          expect(Buffer.from(sibling, 'base64url')).toEqual(Buffer.from(bytes))
          expect(isCanonicalBase64url(sibling)).toBe(false)
        },
      ),
    )
  })

  it.each([
    ['padding', 'QQ=='],
    ['the standard alphabet', 'a+b/'],
    ['a length of 1 mod 4', 'QUFBQ'],
    ['white space', 'QU FB'],
    ['a character outside ASCII', 'QUF\u00e9'],
  ])('refuses %s', (_name, value) => {
    expect(isCanonicalBase64url(value)).toBe(false)
  })

  it('accepts the empty string (zero bytes)', () => {
    expect(isCanonicalBase64url('')).toBe(true)
  })
})
