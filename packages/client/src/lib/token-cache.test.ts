import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { accessToken, TokenCache } from './token-cache.js'

const timing = { refreshBefore: 60_000, refreshJitter: 0, retryRefreshAfter: 2000 }

describe('TokenCache (issue 16)', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-12-03T10:00:00Z'))
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('makes one request for many callers, serves the cache, refreshes early in the background', async () => {
    const cache = new TokenCache(timing, 10)
    let fetched = 0
    const fetch = async () => {
      fetched++
      return accessToken(`t${fetched}`, 'Bearer', Date.now() + 300_000)
    }
    const first = await Promise.all(Array.from({ length: 200 }, () => cache.get('k', fetch)))
    expect(fetched).toBe(1)
    expect(new Set(first.map((t) => t.value))).toEqual(new Set(['t1']))
    expect(cache.peek('k')?.value).toBe('t1')
    vi.advanceTimersByTime(241_000) // past expiry − 60 s
    expect(cache.peek('k')).toBeUndefined()
    expect((await cache.get('k', fetch)).value).toBe('t1') // still valid: served, refresh started
    await vi.advanceTimersByTimeAsync(0)
    expect(fetched).toBe(2)
    expect((await cache.get('k', fetch)).value).toBe('t2')
  })

  it('serves a still-valid token while refreshes fail, then fails', async () => {
    const cache = new TokenCache(timing, 10)
    let fail = false
    let fetched = 0
    const fetch = async () => {
      fetched++
      if (fail) throw new Error('issuer down')
      return accessToken('t', 'Bearer', Date.now() + 300_000)
    }
    await cache.get('k', fetch)
    fail = true
    vi.advanceTimersByTime(250_000)
    expect((await cache.get('k', fetch)).value).toBe('t')
    await vi.advanceTimersByTimeAsync(0)
    expect(fetched).toBe(2)
    // Within retryRefreshAfter, no new request.
    expect((await cache.get('k', fetch)).value).toBe('t')
    expect(fetched).toBe(2)
    vi.advanceTimersByTime(50_000) // past expiry
    await expect(cache.get('k', fetch)).rejects.toThrow('issuer down')
  })

  it('drops an invalidated token, clears on rotation, and stops waiting on abort', async () => {
    const cache = new TokenCache(timing, 2)
    const token = accessToken('t', 'Bearer', Date.now() + 300_000)
    await cache.get('k', async () => token)
    cache.invalidate(accessToken('t', 'Bearer', 0))
    expect(cache.peek('k')).toBeUndefined()
    await cache.get('k', async () => token)
    cache.clear()
    expect(cache.peek('k')).toBeUndefined()
    const controller = new AbortController()
    const waiting = cache.get('slow', () => new Promise(() => {}), controller.signal)
    controller.abort(new Error('gone'))
    await expect(waiting).rejects.toThrow('gone')
    expect(JSON.stringify(token)).not.toContain('"t"')
  })
})
