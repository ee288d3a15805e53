#!/usr/bin/env node
// Sets up a fresh clone: makes sure pnpm is there (the version package.json pins), installs the
// workspace from the lockfile, and with --build builds every package. Safe to run again: each step is
// quick when already done.
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const root = new URL('..', import.meta.url)
const { packageManager } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
const wanted = packageManager.replace(/^pnpm@/, '')

const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`setup: "${command} ${args.join(' ')}" failed`)
    process.exit(result.status ?? 1)
  }
}

let installed
try {
  installed = execFileSync('pnpm', ['--version'], { encoding: 'utf8' }).trim()
} catch {
  installed = undefined
}
if (installed !== wanted) {
  console.log(`setup: installing pnpm ${wanted}${installed ? ` (found ${installed})` : ''}`)
  run('npm', ['install', '--global', '--no-fund', '--no-audit', `pnpm@${wanted}`])
}
run('pnpm', ['install', '--frozen-lockfile', '--reporter=silent'])
if (process.argv.includes('--build')) run('pnpm', ['run', '--silent', 'build'])
