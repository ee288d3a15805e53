import { describe, expect, it } from 'vitest'
import { sanitize } from './sanitize.js'

describe('sanitize', () => {
  it('drops quoted values and keeps identifiers', () => {
    expect(sanitize('entity `Order::"7"` does not exist')).toBe('entity `…` does not exist')
    expect(sanitize('attribute `owner` not found on Order::"a\\"b"')).toBe(
      'attribute `owner` not found on Order::"…"',
    )
    expect(sanitize('value `5` is not a string')).toBe('value `…` is not a string')
    expect(sanitize('no quotes here')).toBe('no quotes here')
  })

  it('hides the rest of a message after an unterminated quote', () => {
    expect(sanitize('bad entity Order::"secret-id')).toBe('bad entity Order::"…')
    expect(sanitize('bad value `secret')).toBe('bad value `…')
  })

  it('cuts a long message before scanning it', () => {
    expect(sanitize('x'.repeat(100_000)).length).toBeLessThanOrEqual(2049)
  })

  // Regression (issue 12): the quoted-string regex backtracked quadratically on an unterminated quote.
  it('scans adversarial messages in linear time', () => {
    const shapes = [
      '"'.repeat(65_536),
      `"${'\\"'.repeat(32_768)}`,
      `"${'a'.repeat(65_535)}`,
      '`'.repeat(65_536),
    ]
    for (const shape of shapes) {
      const started = performance.now()
      sanitize(shape)
      expect(performance.now() - started).toBeLessThan(20)
    }
  })
})
