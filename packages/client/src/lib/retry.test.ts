import { describe, expect, it } from 'vitest'
import { parseProblem } from './problem.js'
import { backoff, mayRepeat, retryAfterMs, retryableStatus } from './retry.js'

describe('retry rules (issue 16)', () => {
  it('reads Retry-After as delta-seconds or an HTTP-date, and nothing else', () => {
    const now = Date.parse('Wed, 02 Dec 2026 10:00:00 GMT')
    expect(retryAfterMs('3', now)).toBe(3000)
    expect(retryAfterMs(' 0 ', now)).toBe(0)
    expect(retryAfterMs('Wed, 02 Dec 2026 10:00:07 GMT', now)).toBe(7000)
    expect(retryAfterMs('Wed, 02 Dec 2026 09:00:00 GMT', now)).toBe(0)
    for (const bad of [
      '-1',
      '1.5',
      '12345678901',
      'soon',
      `Wed, ${'9'.repeat(80)}`,
      '2026-12-02T10:00:07Z',
    ]) {
      expect(retryAfterMs(bad, now)).toBeUndefined()
    }
    expect(retryAfterMs(undefined, now)).toBeUndefined()
  })

  it('backs off with full jitter under a doubling, capped ceiling', () => {
    expect(backoff(1, 100, 5000, () => 0.999)).toBe(99)
    expect(backoff(3, 100, 5000, () => 0.999)).toBe(399)
    expect(backoff(10, 100, 5000, () => 0.999)).toBe(4995)
    expect(backoff(3, 100, 5000, () => 0)).toBe(0)
  })

  it('repeats idempotent methods and keyed writes only, and only transient statuses', () => {
    expect(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'].every((m) => mayRepeat(m, false))).toBe(true)
    expect(mayRepeat('POST', false)).toBe(false)
    expect(mayRepeat('POST', true)).toBe(true)
    expect([408, 429, 500, 502, 503, 504].every(retryableStatus)).toBe(true)
    expect([400, 401, 403, 404, 409, 422, 501].some(retryableStatus)).toBe(false)
  })
})

describe('parseProblem (RFC 9457)', () => {
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))

  it('keeps the standard members and simple extensions, bounded', () => {
    const problem = parseProblem(
      'application/problem+json; charset=utf-8',
      bytes({
        type: 'about:blank',
        title: 'Conflict',
        status: 409,
        detail: 'd',
        code: 'idempotency_conflict',
        n: 1,
        ok: true,
        deep: { a: 1 },
        long: 'x'.repeat(2000),
      }),
    )
    expect(problem).toEqual({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'd',
      extensions: { code: 'idempotency_conflict', n: 1, ok: true },
    })
  })

  it('reads no other media type, no array, no invalid UTF-8 and nothing over 16 KiB', () => {
    expect(parseProblem('text/html', bytes({ title: 'x' }))).toBeUndefined()
    expect(parseProblem('application/json', bytes([1]))).toBeUndefined()
    expect(parseProblem('application/json', new Uint8Array([0x7b, 0xff, 0x7d]))).toBeUndefined()
    expect(parseProblem('application/json', bytes({ detail: 'x'.repeat(17_000) }))).toBeUndefined()
    expect(parseProblem(undefined, bytes({}))).toBeUndefined()
  })
})
