import { setFlagsFromString } from 'node:v8'

const flag = '--no-turbo-inline-js-wasm-calls'
let applied = false

/**
 * Turns off V8's inlining of JavaScript-to-wasm calls for this process, once. On Node 20.20.2, long runs
 * of decisions across thousands of re-preparsed policy sets abort the process in V8's deoptimizer
 * (`Fatal error … unreachable code`): 5 runs in 6 of this package's soak here, none of 8 with the flag, at a
 * cost inside the benchmark's noise. Set before the engine's glue code is hot, it acts like the command-line flag.
 *
 * @see ../../README.md#the-v8-crash-on-node-20-and-its-remedy
 */
export function disableWasmCallInlining(): void {
  if (applied) return
  applied = true
  if (process.execArgv.includes(flag)) return
  setFlagsFromString(flag)
}
