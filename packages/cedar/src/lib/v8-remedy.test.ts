// Issue 13, item 7: the V8 flag that stops the Node 20 abort was set on every Node, silently. It is now set
// by default only where the abort reproduces (Node 20), and said once per process in a warning.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { wasmCallInliningAborts } from './v8-remedy.js'

const code = 'ZEROTRUST_CEDAR_V8_FLAG'
const policies = { text: '@id("all") permit (principal, action, resource);' }

/** A fresh copy of the package (the remedy's once-per-process state starts over) and its warnings. */
async function freshPackage() {
  vi.resetModules()
  const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
  const { cedarAuthorizer } = await import('../index.js')
  const ours = () =>
    warnings.mock.calls.filter(([, options]) => typeof options === 'object' && options?.code === code)
  return { cedarAuthorizer, ours }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the V8 remedy (issue 13)', () => {
  it('is wanted on Node 20 only, where the abort reproduces', () => {
    expect(wasmCallInliningAborts({ node: '20.20.2' })).toBe(true)
    expect(wasmCallInliningAborts({ node: '20.19.0' })).toBe(true)
    expect(wasmCallInliningAborts({ node: '22.12.0' })).toBe(false)
    expect(wasmCallInliningAborts({ node: '24.1.0' })).toBe(false)
    expect(wasmCallInliningAborts({ node: '200.0.0' })).toBe(false)
  })

  it('is set by default on Node 20 only, and said once per process however many authorizers there are', async () => {
    const { cedarAuthorizer, ours } = await freshPackage()
    const started = process.execArgv.includes('--no-turbo-inline-js-wasm-calls')
    cedarAuthorizer({ policies })
    cedarAuthorizer({ policies })
    expect(ours()).toHaveLength(wasmCallInliningAborts() && !started ? 1 : 0)
    // An explicit `true` sets it on any Node; still one warning in all.
    cedarAuthorizer({ policies, disableWasmCallInlining: true })
    cedarAuthorizer({ policies, disableWasmCallInlining: true })
    expect(ours()).toHaveLength(started ? 0 : 1)
    expect(ours()[0]?.[1]).toMatchObject({ type: 'ZeroTrustWarning', code })
  })

  it('leaves V8 alone, and says nothing, when turned off', async () => {
    const { cedarAuthorizer, ours } = await freshPackage()
    cedarAuthorizer({ policies, disableWasmCallInlining: false })
    expect(ours()).toHaveLength(0)
  })
})
