// A TypeDoc plugin: names each module of the API reference after the import that reaches it
// (`@zerotrust/core/layer`) instead of its source path (`core/src/kits/layer`), which is what TypeDoc
// calls an entry point when several packages are documented as one program.
import { readdirSync, readFileSync } from 'node:fs'
import { Converter, ReflectionKind } from 'typedoc'

/** The source path TypeDoc names a module by (`core/src/kits/layer`), to the import that reaches it. */
function importNames() {
  const names = new Map()
  for (const dir of readdirSync('packages')) {
    const manifest = JSON.parse(readFileSync(`packages/${dir}/package.json`, 'utf8'))
    if (manifest.private) continue
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      const source = typeof target === 'object' ? target['@zerotrust/source'] : undefined
      if (!source) continue
      const path = `${dir}/${source.slice(2)}`.replace(/\.ts$/, '').replace(/\/index$/, '')
      names.set(path, subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`)
    }
  }
  return names
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  const names = importNames()
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const name = names.get(module.name)
      if (name) module.name = name
    }
  })
}
