import { setFlagsFromString } from 'node:v8'

const flag = '--no-turbo-inline-js-wasm-calls'
// V8's flags belong to the process, so whether this package has set one is process state too: the first
// authorizer that wants the remedy sets the flag and says so, later ones find it done.
let applied = false

/**
 * Whether long runs of Cedar decisions abort this Node in V8's deoptimizer: Node 20 (V8 11.3), where the
 * soak reproduces it. Node 22 and later are left alone until a soak reproduces it there too.
 *
 * @see ../../README.md#the-v8-crash-on-node-20-and-its-remedy
 */
export function wasmCallInliningAborts(versions: { readonly node: string } = process.versions): boolean {
  return versions.node.split('.', 1)[0] === '20'
}

/**
 * Turns off V8's inlining of JavaScript-to-wasm calls for this process, once, and says so once in a
 * `ZeroTrustWarning` (code `ZEROTRUST_CEDAR_V8_FLAG`). On Node 20.20.2, long runs of decisions across
 * thousands of re-preparsed policy sets abort the process in V8's deoptimizer (`Fatal error … unreachable
 * code`): 5 runs in 6 of this package's soak here, none of 8 with the flag, at a cost inside the
 * benchmark's noise. Set before the engine's glue code is hot, it acts like the command-line flag; a
 * process started with that flag needs nothing set and hears nothing.
 *
 * @see ../../README.md#the-v8-crash-on-node-20-and-its-remedy
 */
export function disableWasmCallInlining(): void {
  if (applied) return
  applied = true
  if (process.execArgv.includes(flag)) return
  setFlagsFromString(flag)
  process.emitWarning(
    `zerotrust: @zerotrust/cedar set the V8 flag "${flag}" for this process: on Node 20 a long run of ` +
      "Cedar decisions can abort the process in V8's deoptimizer. Start node with the flag, or pass " +
      '"disableWasmCallInlining: false" to leave V8\'s flags alone',
    { type: 'ZeroTrustWarning', code: 'ZEROTRUST_CEDAR_V8_FLAG' },
  )
}
