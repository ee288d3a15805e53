import type { StoredResponse } from '@zerotrust/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { memoryIdempotencyStore } from './memory-store.js'

const response = (body = 'ok'): StoredResponse => ({
  status: 201,
  headers: { 'content-type': 'text/plain' },
  body: new TextEncoder().encode(body),
})

afterEach(() => {
  vi.useRealTimers()
})

describe('memoryIdempotencyStore', () => {
  it('claims a free key once, reports it in flight, then completed with the stored response', async () => {
    const store = memoryIdempotencyStore()
    const first = await store.claim('k', 'fp', 1000)
    expect(first.state).toBe('claimed')
    expect(await store.claim('k', 'fp2', 1000)).toEqual({ state: 'in_flight', fingerprint: 'fp' })
    const owner = (first as { owner: string }).owner
    expect(await store.complete('k', owner, response(), 60_000)).toBe(true)
    const done = await store.claim('k', 'fp', 1000)
    expect(done).toMatchObject({ state: 'completed', fingerprint: 'fp', response: { status: 201 } })
    expect(new TextDecoder().decode((done as { response: StoredResponse }).response.body)).toBe('ok')
  })

  it('lets only the owner complete or release, and a released key be claimed again', async () => {
    const store = memoryIdempotencyStore()
    const { owner } = (await store.claim('k', 'fp', 1000)) as { owner: string }
    expect(await store.complete('k', 'someone-else', response(), 60_000)).toBe(false)
    expect(await store.release('k', 'someone-else')).toBe(false)
    expect(await store.release('k', owner)).toBe(true)
    expect(await store.release('k', owner)).toBe(false)
    expect((await store.claim('k', 'fp', 1000)).state).toBe('claimed')
  })

  it('lets a lock lapse after its TTL; the old owner can then neither complete nor release', async () => {
    vi.useFakeTimers()
    const store = memoryIdempotencyStore()
    const { owner } = (await store.claim('k', 'fp', 1000)) as { owner: string }
    vi.advanceTimersByTime(999)
    expect((await store.claim('k', 'fp', 1000)).state).toBe('in_flight')
    vi.advanceTimersByTime(1)
    const second = (await store.claim('k', 'fp', 1000)) as { state: string; owner: string }
    expect(second.state).toBe('claimed')
    expect(await store.complete('k', owner, response('stale'), 60_000)).toBe(false)
    expect(await store.release('k', owner)).toBe(false)
    expect(await store.complete('k', second.owner, response('fresh'), 60_000)).toBe(true)
  })

  it('extends only the lock its owner still holds, and never a lapsed lock or a completed key', async () => {
    vi.useFakeTimers()
    const store = memoryIdempotencyStore()
    const { owner } = (await store.claim('k', 'fp', 1000)) as { owner: string }
    expect(await store.extend('k', 'someone-else', 5000)).toBe(false)
    expect(await store.extend('never-claimed', owner, 5000)).toBe(false)
    vi.advanceTimersByTime(900)
    expect(await store.extend('k', owner, 1000)).toBe(true)
    // 900 ms after the renewal the original lock would have lapsed; the renewed one still holds.
    vi.advanceTimersByTime(900)
    expect(await store.claim('k', 'fp2', 1000)).toEqual({ state: 'in_flight', fingerprint: 'fp' })
    vi.advanceTimersByTime(100)
    // Lapsed: the old owner can no longer renew it, and the key is free for the next request.
    expect(await store.extend('k', owner, 1000)).toBe(false)
    const next = (await store.claim('k', 'fp3', 1000)) as { state: string; owner: string }
    expect(next.state).toBe('claimed')
    expect(await store.extend('k', owner, 1000)).toBe(false)
    expect(await store.complete('k', next.owner, response(), 60_000)).toBe(true)
    // Completed: not even the owner that completed it holds a lock to extend.
    expect(await store.extend('k', next.owner, 1000)).toBe(false)
    vi.advanceTimersByTime(59_999)
    expect((await store.claim('k', 'fp3', 1000)).state).toBe('completed')
    vi.advanceTimersByTime(1)
    // The retention was not touched by the refused extension.
    expect((await store.claim('k', 'fp3', 1000)).state).toBe('claimed')
  })

  it('forgets a completed response after its retention', async () => {
    vi.useFakeTimers()
    const store = memoryIdempotencyStore()
    const { owner } = (await store.claim('k', 'fp', 1000)) as { owner: string }
    await store.complete('k', owner, response(), 5000)
    vi.advanceTimersByTime(4999)
    expect((await store.claim('k', 'fp', 1000)).state).toBe('completed')
    vi.advanceTimersByTime(1)
    expect((await store.claim('k', 'fp', 1000)).state).toBe('claimed')
  })

  it('evicts the oldest completed responses to make room, never a lock in flight', async () => {
    const store = memoryIdempotencyStore({ maxEntries: 3, minRetention: 0 })
    for (const key of ['a', 'b']) {
      const { owner } = (await store.claim(key, key, 60_000)) as { owner: string }
      await store.complete(key, owner, response(key), 60_000)
    }
    expect((await store.claim('c', 'c', 60_000)).state).toBe('claimed')
    // Full (a, b done; c in flight): the oldest response, a, makes room.
    expect((await store.claim('d', 'd', 60_000)).state).toBe('claimed')
    expect((await store.claim('a', 'a', 60_000)).state).toBe('claimed')
    // Now c, d, a are all in flight (b was evicted for a): nothing may be evicted, so a claim is refused.
    await expect(store.claim('e', 'e', 60_000)).rejects.toThrow(/full/)
    expect(await store.claim('c', 'c', 60_000)).toEqual({ state: 'in_flight', fingerprint: 'c' })
  })

  it('keeps stored bytes under "maxBytes", evicting old responses', async () => {
    const store = memoryIdempotencyStore({ maxBytes: 100, minRetention: 0 })
    for (const key of ['a', 'b', 'c']) {
      const { owner } = (await store.claim(key, key, 60_000)) as { owner: string }
      expect(await store.complete(key, owner, response(key.repeat(30)), 60_000)).toBe(true)
    }
    expect((await store.claim('a', 'a', 60_000)).state).toBe('claimed')
    expect((await store.claim('c', 'c', 60_000)).state).toBe('completed')
    const { owner } = (await store.claim('big', 'big', 60_000)) as { owner: string }
    await expect(store.complete('big', owner, response('x'.repeat(200)), 60_000)).rejects.toThrow(/maxBytes/)
  })

  // Regression (security review): a caller flooding new keys evicted another caller's fresh response,
  // so that caller's retry ran its handler a second time.
  it('never evicts a response younger than "minRetention": a flood of keys gets 503s, not a second run', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = memoryIdempotencyStore({ maxEntries: 3, maxBytes: 1000, minRetention: 60_000 })
    const { owner } = (await store.claim('victim', 'v', 60_000)) as { owner: string }
    await store.complete('victim', owner, response('paid'), 24 * 3_600_000)
    for (const key of ['x1', 'x2']) {
      const claimed = (await store.claim(key, key, 60_000)) as { owner: string }
      await store.complete(key, claimed.owner, response(key), 24 * 3_600_000)
    }
    await expect(store.claim('x3', 'x3', 60_000)).rejects.toThrow(/full/)
    expect(await store.claim('victim', 'v', 60_000)).toMatchObject({ state: 'completed', fingerprint: 'v' })

    // Bytes too: a response that does not fit is refused, and nothing young is dropped for it.
    const bytesStore = memoryIdempotencyStore({ maxBytes: 100, minRetention: 60_000 })
    const first = (await bytesStore.claim('victim', 'v', 60_000)) as { owner: string }
    await bytesStore.complete('victim', first.owner, response('v'.repeat(60)), 60_000)
    const second = (await bytesStore.claim('big', 'b', 60_000)) as { owner: string }
    await expect(bytesStore.complete('big', second.owner, response('b'.repeat(60)), 60_000)).rejects.toThrow(
      /full/,
    )
    expect((await bytesStore.claim('victim', 'v', 60_000)).state).toBe('completed')

    // Once older than the window, the oldest response makes room again.
    vi.advanceTimersByTime(60_001)
    expect((await store.claim('x3', 'x3', 60_000)).state).toBe('claimed')
    expect((await store.claim('victim', 'v', 60_000)).state).toBe('claimed')
  })

  it('keeps its own copy of a stored body', async () => {
    const store = memoryIdempotencyStore()
    const { owner } = (await store.claim('k', 'fp', 1000)) as { owner: string }
    const mine = response('abc')
    await store.complete('k', owner, mine, 60_000)
    ;(mine.body as Uint8Array)[0] = 0x7a
    const done = (await store.claim('k', 'fp', 1000)) as { response: StoredResponse }
    expect(new TextDecoder().decode(done.response.body)).toBe('abc')
  })

  it('rejects option mistakes naming the option', () => {
    expect(() => memoryIdempotencyStore({ maxEntries: 0 })).toThrow(
      'memoryIdempotencyStore: "maxEntries" option must be a positive integer',
    )
    expect(() => memoryIdempotencyStore({ maxBytes: 1.5 })).toThrow(/"maxBytes" option/)
    expect(() => memoryIdempotencyStore({ max: 1 } as never)).toThrow(/"max" option is not recognized/)
  })
})
