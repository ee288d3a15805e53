import { describe, expect, it } from 'vitest'
import { Limiter } from './limiter.js'

const settings = { maxConcurrent: 2, maxQueued: 2, maxWait: 5000 }

function deferred() {
  let resolve!: (value: string) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<string>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('Limiter (issue 12)', () => {
  it('starts queued work in arrival order as slots free up', async () => {
    const limiter = new Limiter(settings)
    const calls = [deferred(), deferred(), deferred(), deferred()]
    const started: number[] = []
    const results = calls.map((call, i) =>
      limiter.run(() => {
        started.push(i)
        return call.promise
      }),
    )
    expect(started).toEqual([0, 1])
    expect([limiter.running, limiter.queued]).toEqual([2, 2])
    calls[1]?.resolve('b')
    await results[1]
    await Promise.resolve()
    expect(started).toEqual([0, 1, 2])
    calls[0]?.reject(new Error('endpoint failed'))
    await expect(results[0]).rejects.toThrow('endpoint failed')
    await Promise.resolve()
    expect(started).toEqual([0, 1, 2, 3])
    calls[2]?.resolve('c')
    calls[3]?.resolve('d')
    await expect(Promise.all(results.slice(2))).resolves.toEqual(['c', 'd'])
    expect([limiter.running, limiter.queued]).toEqual([0, 0])
  })

  it('frees the slot of work that throws before returning a promise', async () => {
    const limiter = new Limiter({ ...settings, maxConcurrent: 1 })
    await expect(
      limiter.run(() => {
        throw new Error('synchronous')
      }),
    ).rejects.toThrow('synchronous')
    await Promise.resolve()
    expect(limiter.running).toBe(0)
    await expect(limiter.run(async () => 'next')).resolves.toBe('next')
  })

  it('refuses with 503 introspection_overloaded when every slot and queue place is taken', async () => {
    const limiter = new Limiter({ ...settings, maxQueued: 0 })
    const hold = deferred()
    const running = [limiter.run(() => hold.promise), limiter.run(() => hold.promise)]
    await expect(limiter.run(async () => 'never')).rejects.toMatchObject({
      code: 'dependency_unavailable',
      reason: 'introspection_overloaded',
      status: 503,
      retryAfter: 5,
    })
    hold.resolve('done')
    await Promise.all(running)
  })
})
