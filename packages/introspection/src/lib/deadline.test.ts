import { describe, expect, it } from 'vitest'
import { deadline } from './deadline.js'

describe('deadline', () => {
  it('settles with the work when it ends first', async () => {
    await expect(deadline(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7)
  })

  it('rejects with the reason when the signal aborts first', async () => {
    const controller = new AbortController()
    const pending = deadline(new Promise(() => {}), controller.signal)
    controller.abort(new Error('timed out'))
    await expect(pending).rejects.toThrow('timed out')
  })

  // Regression (issue 12): with an already aborted signal, the work's later rejection went unhandled.
  it('leaves no unhandled rejection when the signal was aborted before the work failed', async () => {
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', record)
    try {
      let fail: (error: Error) => void = () => {}
      const work = new Promise<never>((_resolve, reject) => {
        fail = reject
      })
      await expect(deadline(work, AbortSignal.abort(new Error('aborted')))).rejects.toThrow('aborted')
      fail(new Error('the call failed later'))
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', record)
    }
  })
})
