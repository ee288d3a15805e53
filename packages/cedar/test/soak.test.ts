import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// TOOLCHAIN.md: on Node 20.20.2, a long run of decisions across thousands of re-preparsed policy sets
// once aborted the process in V8's deoptimizer (`Fatal error … unreachable code`), cured by
// `--no-turbo-inline-js-wasm-calls`. This long soak (about a minute per process here) runs in CI and with
// CEDAR_SOAK=1; the bounded soak in cedar-authorizer.test.ts runs every time. See the README.
const enabled = process.env.CEDAR_SOAK === '1'
const sets = Number(process.env.CEDAR_SOAK_SETS ?? 5000)
const perSet = Number(process.env.CEDAR_SOAK_DECISIONS ?? 12)
const child = fileURLToPath(new URL('./soak-child.ts', import.meta.url))
const cwd = fileURLToPath(new URL('..', import.meta.url))

function soak(
  flags: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    // The source condition resolves @zerotrust/* to their sources, as vitest does: no build needed.
    const args = [
      ...flags,
      '--conditions=@zerotrust/source',
      '--import',
      'tsx',
      child,
      String(sets),
      String(perSet),
    ]
    const proc = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    proc.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    // Bounded: a hung child is killed, and the test fails on its signal.
    const timer = setTimeout(() => proc.kill('SIGKILL'), 300_000)
    proc.on('error', reject)
    proc.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out })
    })
  })
}

// CI runs the soak of the default configuration every time (about a minute on two cores): the remedy is
// what keeps a service alive, so it must not regress unnoticed. The command-line variant runs with
// CEDAR_SOAK=1 only.
const inCi = process.env.CI === 'true'
if (!enabled && !inCi) console.warn('skipping the long Cedar soak: set CEDAR_SOAK=1 to run it (CI runs it)')

async function expectCompleted(flags: string[], env: Record<string, string>): Promise<void> {
  const { code, signal, out } = await soak(flags, env)
  expect(out).not.toContain('Fatal error')
  expect({ code, signal }).toEqual({ code: 0, signal: null })
  expect(JSON.parse(out.trim().split('\n').at(-1) ?? '{}')).toEqual({ sets, decisions: sets * perSet })
}

// Without either remedy (SOAK_NO_REMEDY=1 and no flag) the process aborted in 5 runs of 6 here, after
// 21 to 52 s: not asserted, since a crash that comes only most of the time would make a flaky test.
describe.skipIf(!enabled && !inCi)('long soak in child processes', () => {
  it("completes with the package's remedy (the default)", () => expectCompleted([], {}), 310_000)

  if (enabled) {
    it(
      'completes with the command-line flag and the remedy off',
      () => expectCompleted(['--no-turbo-inline-js-wasm-calls'], { SOAK_NO_REMEDY: '1' }),
      310_000,
    )
  }
})
