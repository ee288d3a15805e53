import { afterEach, describe, expect, it, vi } from 'vitest'
import { send, withDeadline } from './deadline.js'

describe('operation deadline', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('rejects with dependency_unavailable (redis_timeout) when the client never answers', async () => {
    vi.useFakeTimers()
    const pending = withDeadline(new Promise(() => {}), 1000)
    const outcome = expect(pending).rejects.toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'redis_timeout',
      message: 'redis did not answer within 1000 ms',
    })
    await vi.advanceTimersByTimeAsync(1000)
    await outcome
  })

  it('passes an answer through and cancels its timer', async () => {
    vi.useFakeTimers()
    expect(await withDeadline(Promise.resolve('OK'), 1000)).toBe('OK')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('turns a client error, thrown or rejected, into dependency_unavailable (redis_error) with the cause', async () => {
    const cause = new Error('connection is closed')
    await expect(withDeadline(Promise.reject(cause), 1000)).rejects.toMatchObject({
      code: 'dependency_unavailable',
      reason: 'redis_error',
      cause,
    })
    await expect(
      send(() => {
        throw cause
      }, 1000),
    ).rejects.toMatchObject({ code: 'dependency_unavailable', reason: 'redis_error', cause })
  })

  it('ignores an answer that arrives after the deadline, without an unhandled rejection', async () => {
    vi.useFakeTimers()
    let fail: (error: Error) => void = () => {}
    const late = new Promise<never>((_, reject) => {
      fail = reject
    })
    const pending = withDeadline(late, 50)
    const outcome = expect(pending).rejects.toMatchObject({ reason: 'redis_timeout' })
    await vi.advanceTimersByTimeAsync(50)
    await outcome
    fail(new Error('late'))
    await vi.advanceTimersByTimeAsync(0)
  })
})
