import { afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { loadSecrets, type SecretSource, type SourceValues } from './index.js'

/** A source whose values expire `lifetime` ms after each read, as leased credentials do. */
function leasedSource(lifetime: number) {
  const until = new WeakMap<SourceValues, number>()
  let reads = 0
  const state = { down: false }
  const source: SecretSource = {
    label: 'leased(test)',
    async read() {
      if (state.down) throw new Error('down')
      reads += 1
      const values = new Map([['LOGIN', `login-${reads}`]])
      until.set(values, Date.now() + lifetime)
      return values
    },
    validUntil: (values) => until.get(values),
  }
  return { source, state }
}

const current = (run: () => unknown) => {
  try {
    return run()
  } catch (error) {
    return error
  }
}

describe('values that expire (SecretSource.validUntil)', () => {
  afterEach(() => vi.useRealTimers())

  it('serve until they expire, past maxStaleness, then throw lease_expired until a read replaces them', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const { source, state } = leasedSource(10_000)
    const secrets = await loadSecrets({
      schema: z.object({ LOGIN: z.string() }),
      sources: [source],
      maxStaleness: 1000,
      onError: () => {},
    })
    state.down = true
    await expect(secrets.forceRefresh()).rejects.toThrow()
    // Past maxStaleness but within the lease: the value serves.
    await vi.advanceTimersByTimeAsync(9000)
    expect(secrets.LOGIN.current()).toBe('login-1')
    await vi.advanceTimersByTimeAsync(1000)
    expect(current(() => secrets.LOGIN.current())).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'lease_expired',
    })

    state.down = false
    await secrets.forceRefresh()
    expect(secrets.LOGIN.current()).toBe('login-2')
    await secrets.close()
  })

  it('expire even while their source answers nothing new (no read failed)', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const { source } = leasedSource(5000)
    const secrets = await loadSecrets({ schema: z.object({ LOGIN: z.string() }), sources: [source] })
    await vi.advanceTimersByTimeAsync(4999)
    expect(secrets.LOGIN.current()).toBe('login-1')
    await vi.advanceTimersByTimeAsync(1)
    expect(current(() => secrets.LOGIN.current())).toMatchObject({ reason: 'lease_expired' })
    await secrets.close()
  })
})
