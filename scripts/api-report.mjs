#!/usr/bin/env node
// The public surface of every published package, as API Extractor reports (`packages/<name>/api/*.api.md`)
// checked in beside the code: `pnpm api` fails when a build's declarations differ from the report, so
// a change to what users can import shows in review as a diff of that file; `pnpm api --update` (after a
// change meant to be public) writes the reports anew. Reads the built declarations: run `pnpm build`
// first. One report per entry point of `exports` (`core.api.md`, `core-layer.api.md`, ...).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor'

const root = fileURLToPath(new URL('..', import.meta.url))
const update = process.argv.includes('--update')
const temp = mkdtempSync(join(tmpdir(), 'zerotrust-api-'))

/** Every entry point of every package that is published: its folder, its report's name, its .d.ts. */
function entryPoints() {
  const entries = []
  for (const dir of readdirSync(join(root, 'packages')).sort()) {
    const folder = join(root, 'packages', dir)
    const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'))
    if (manifest.private) continue
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target !== 'object' || typeof target.types !== 'string') continue
      const suffix = subpath === '.' ? '' : `-${subpath.slice(2).replaceAll('/', '-')}`
      entries.push({ dir, folder, name: `${dir}${suffix}`, types: join(folder, target.types) })
    }
  }
  return entries
}

// A report holds the signatures only. API Extractor's findings (an undocumented member, a type the
// surface uses but does not export) name lines of the built .d.ts and its hashed chunk files, which move
// with any edit, so in the report they would make every build look like a change; they are not kept.
const messages = {
  compilerMessageReporting: { default: { logLevel: 'warning' } },
  extractorMessageReporting: { default: { logLevel: 'none', addToApiReportFile: false } },
  tsdocMessageReporting: { default: { logLevel: 'none', addToApiReportFile: false } },
}

const entries = entryPoints()
const unbuilt = entries.filter((entry) => !existsSync(entry.types))
if (unbuilt.length > 0) {
  console.error(`api: not built: ${unbuilt.map((entry) => entry.name).join(', ')}; run \`pnpm build\` first`)
  process.exit(1)
}

let changed = 0
let failed = 0
for (const entry of entries) {
  if (update) mkdirSync(join(entry.folder, 'api'), { recursive: true })
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: entry.folder,
      mainEntryPointFilePath: entry.types,
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: 'ES2023',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            types: ['node'],
            strict: true,
            skipLibCheck: true,
          },
          files: [entry.types],
        },
      },
      apiReport: {
        enabled: true,
        reportFileName: `${entry.name}.api.md`,
        reportFolder: join(entry.folder, 'api'),
        reportTempFolder: temp,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages,
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: join(entry.folder, 'package.json'),
  })
  const result = Extractor.invoke(config, {
    localBuild: update,
    messageCallback(message) {
      // The bundled compiler newer than the repository's is expected, and a changed report is shown
      // below as a diff rather than as advice to copy a file this script removes; the rest is printed.
      if (
        message.messageId === 'console-compiler-version-notice' ||
        message.messageId === 'console-api-report-not-copied'
      )
        message.logLevel = ExtractorLogLevel.None
    },
  })
  if (result.apiReportChanged) {
    changed++
    if (!update) {
      const report = `packages/${entry.dir}/api/${entry.name}.api.md`
      console.error(`api: ${report} differs from the build:`)
      spawnSync('diff', ['-u', join(root, report), join(temp, `${entry.name}.api.md`)], { stdio: 'inherit' })
    }
  }
  if (result.errorCount > 0) failed++
}
rmSync(temp, { recursive: true, force: true })

if (failed > 0) {
  console.error(`api: ${failed} entry point(s) could not be analyzed`)
  process.exit(1)
}
if (changed > 0 && !update) {
  console.error(
    'api: the public surface changed. If that is meant, run `pnpm build && pnpm api --update` and commit the reports.',
  )
  process.exit(1)
}
console.log(update ? `api: ${changed} report(s) written` : 'api: every report matches the build')
