import { afterEach, describe, expect, it, vi } from 'vitest'
import { backgroundTimeout, maxTimerDelay } from './timers.js'

describe('backgroundTimeout', () => {
  const timers: NodeJS.Timeout[] = []
  afterEach(() => {
    for (const timer of timers.splice(0)) clearTimeout(timer)
  })

  // Node fires a delay past a signed 32-bit integer after 1 ms: a Vault lease of a month, or a
  // "maxStaleness" of weeks while a source is down, would re-arm and spin (issue 13).
  it('waits the longest delay a timer takes for a delay past it, rather than firing at once', async () => {
    const fired = vi.fn()
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      timers.push(backgroundTimeout(fired, maxTimerDelay + 1), backgroundTimeout(fired, 30 * 86_400_000))
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(fired).not.toHaveBeenCalled()
    } finally {
      warnings.mockRestore()
    }
  })
})
