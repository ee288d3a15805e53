#!/usr/bin/env node
// Sets up a fresh clone: finds pnpm at the version package.json pins (installing it, or running it
// through npx where a global install is not allowed), installs the workspace from the lockfile, and with
// --build builds every package. Safe to run again: each step is quick when already done. With --quiet
// (the demo's) a step's output is shown only when it fails.
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const root = new URL('..', import.meta.url)
const { packageManager } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
const wanted = packageManager.replace(/^pnpm@/, '')

const quiet = process.argv.includes('--quiet')
const attempt = (command, args) => {
  if (!quiet) return spawnSync(command, args, { cwd: root, stdio: 'inherit' }).status === 0
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (result.status === 0) return true
  process.stdout.write(result.stdout ?? '')
  process.stderr.write(result.stderr ?? '')
  return false
}
const run = (command, args) => {
  if (!attempt(command, args)) {
    console.error(`setup: "${command} ${args.join(' ')}" failed`)
    process.exit(1)
  }
}
const version = () => {
  try {
    return execFileSync('pnpm', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    return undefined
  }
}

let pnpm = ['pnpm']
const found = version()
if (found !== wanted) {
  if (!quiet) console.log(`setup: installing pnpm ${wanted}${found ? ` (found ${found})` : ''}`)
  const installed = attempt('npm', ['install', '--global', '--no-fund', '--no-audit', `pnpm@${wanted}`])
  if (!installed || version() !== wanted) {
    if (!quiet) console.log('setup: no global install possible here; running pnpm through npx')
    pnpm = ['npx', '--yes', `pnpm@${wanted}`]
  }
}
const [command, ...prefix] = pnpm
run(command, [...prefix, 'install', '--frozen-lockfile', '--reporter=silent'])
if (process.argv.includes('--build')) run(command, [...prefix, '-r', '--filter', './packages/*', 'build'])
