import { describe, expect, it } from 'vitest'
import { concat } from './concat.js'

// Issue 13: the one concat of the captured response bodies and the bounded fetch.
describe('concat', () => {
  it('joins chunks in order, hands one chunk back as it is, and makes nothing of none', () => {
    const bytes = (...values: number[]) => Uint8Array.from(values)
    expect(concat([bytes(1, 2), bytes(), bytes(3)], 3)).toEqual(bytes(1, 2, 3))
    const one = bytes(4, 5)
    expect(concat([one], 2)).toBe(one)
    expect(concat([], 0)).toEqual(bytes())
  })
})
