// The API reference: `pnpm docs:api` writes it to docs/api (not committed: build it when you need it).
// Its entry points are every published package's entry points, read from `exports` (the TypeScript
// source each one is built from), so a new subpath export appears without a change here; one program
// for all of them, which is several times quicker than TypeDoc's per-package mode.
import { readdirSync, readFileSync } from 'node:fs'

const entryPoints = []
for (const dir of readdirSync('packages').sort()) {
  const manifest = JSON.parse(readFileSync(`packages/${dir}/package.json`, 'utf8'))
  if (manifest.private) continue
  for (const target of Object.values(manifest.exports)) {
    const source = typeof target === 'object' ? target['@zerotrust/source'] : undefined
    if (source) entryPoints.push(`packages/${dir}/${source.slice(2)}`)
  }
}

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'zerotrust',
  entryPoints,
  entryPointStrategy: 'resolve',
  tsconfig: 'tsconfig.typedoc.json',
  plugin: ['./scripts/typedoc-package-names.mjs'],
  highlightLanguages: ['bash', 'http', 'javascript', 'json', 'sh', 'typescript'],
  out: 'docs/api',
  readme: 'none',
  excludePrivate: true,
  excludeInternal: true,
  sort: ['source-order'],
  validation: { notExported: false, invalidLink: true, notDocumented: false },
}
