import { describe, expect, it } from 'vitest'
import { renderError } from './render-error.js'
import {
  checkCaller,
  maxCallerLength,
  refusedClaimError,
  retryAfterSeconds,
  storedResponseSize,
} from './store-kit.js'

// Issue 12, item 3 (second review): the stores and the layer each had their own copy of these.
describe('store kit', () => {
  it('renders a refused claim as 429 caller_quota or 503 store_full, with Retry-After rounded up', () => {
    const quota = renderError(refusedClaimError({ reason: 'caller_quota', retryAfterMs: 41_200 }))
    expect(quota).toMatchObject({ status: 429, headers: { 'retry-after': '42' } })
    expect(refusedClaimError({ reason: 'caller_quota', retryAfterMs: 1 })).toMatchObject({
      code: 'rate_limited',
      status: 429,
      reason: 'caller_quota',
      retryAfter: 1,
    })
    const full = renderError(refusedClaimError({ reason: 'store_full', retryAfterMs: 0 }))
    expect(full).toMatchObject({ status: 503, headers: { 'retry-after': '1' } })
    expect(refusedClaimError({ reason: 'store_full', retryAfterMs: 2000 })).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'store_full',
      retryAfter: 2,
    })
  })

  it('gives whole seconds of at least 1 for any wait', () => {
    expect([0, -5, Number.NaN, 1, 999, 1000, 1001, 600_000].map(retryAfterSeconds)).toEqual([
      1, 1, 1, 1, 1, 1, 2, 600,
    ])
  })

  it('measures a stored response as every store counts it', () => {
    const body = new Uint8Array(256)
    expect(storedResponseSize({ status: 201, headers: {}, body })).toBe(256)
    const headers = { 'x-note': 'café', link: ['</a>', '</b>'] }
    expect(storedResponseSize({ status: 201, headers, body })).toBe(256 + 6 + 4 + 4 + 4 + 4)
  })

  it('takes no caller, or a non-empty string of at most 512 characters', () => {
    expect(checkCaller(undefined)).toBeUndefined()
    expect(checkCaller('c'.repeat(maxCallerLength))).toBe('c'.repeat(maxCallerLength))
    for (const bad of ['', 'c'.repeat(maxCallerLength + 1), 42, null]) {
      expect(() => checkCaller(bad)).toThrow(TypeError)
    }
  })
})
