import { describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { loadSecrets, type SecretSource } from './index.js'

describe('Secret.onRotate', () => {
  it('calls the listener when that secret rotates, until it is removed', async () => {
    const values = new Map([
      ['TOKEN', 'first-value'],
      ['OTHER', 'x'],
    ])
    const source: SecretSource = { label: 'memory', read: async () => new Map(values) }
    const secrets = await loadSecrets({
      schema: z.object({ TOKEN: z.string(), OTHER: z.string() }),
      sources: [source],
    })
    const rotated = vi.fn()
    const remove = secrets.TOKEN.onRotate(rotated)

    values.set('OTHER', 'y')
    await secrets.forceRefresh()
    expect(rotated).not.toHaveBeenCalled()

    values.set('TOKEN', 'second-value')
    await secrets.forceRefresh()
    expect(rotated).toHaveBeenCalledExactlyOnceWith(secrets.TOKEN)
    expect(secrets.TOKEN.current()).toBe('second-value')

    remove()
    values.set('TOKEN', 'third-value')
    await secrets.forceRefresh()
    expect(rotated).toHaveBeenCalledOnce()
    expect(() => secrets.TOKEN.onRotate('nope' as never)).toThrow(
      new TypeError('onRotate: the listener must be a function'),
    )
    await secrets.close()
  })
})
