import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/**
 * The TypeScript blocks of the documentation, compiled as one program under the repository's strict
 * options, so a block that stops compiling fails the build (issue 20).
 *
 * A block (```ts or ```typescript) compiles on its own, as an ES module in this package, which depends on
 * every published package and on the libraries the pages show (express, fastify, koa, hono, ioredis,
 * pino, zod). What a block uses without showing it comes from an HTML comment right above the fence,
 * which a rendered page hides:
 *
 *     <!-- snippet-prelude
 *     import type { Express } from 'express'
 *     declare const app: Express
 *     -->
 *
 * A block that cannot compile on its own says why in its info string: ```ts nocheck: the reason.
 */
export interface DocBlock {
  /** The page, from the repository root. */
  readonly page: string
  /** The 1-based line of the page where the block's code starts (the line after the fence). */
  readonly line: number
  /** The hidden prelude, '' when there is none. */
  readonly prelude: string
  readonly code: string
  /** Why the block is not compiled, when its info string says `nocheck: …`; `''` for `nocheck` alone. */
  readonly nocheck?: string
}

export const root = fileURLToPath(new URL('../../../', import.meta.url))

/** README.md, docs/**\/*.md (but the generated docs/api), packages/*\/README.md, examples/*\/README.md. */
export function documentationPages(): string[] {
  const pages = ['README.md']
  for (const entry of readdirSync(join(root, 'docs'), { withFileTypes: true, recursive: true })) {
    const path = relative(root, join(entry.parentPath, entry.name))
    if (entry.isFile() && entry.name.endsWith('.md') && !path.startsWith(join('docs', 'api', '')))
      pages.push(path)
  }
  for (const dir of ['packages', 'examples']) {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const readme = join(dir, entry.name, 'README.md')
      if (readdirSync(join(root, dir, entry.name)).includes('README.md')) pages.push(readme)
    }
  }
  return pages.sort()
}

const fence = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)(.*)$/
const preludeStart = '<!-- snippet-prelude'

/** The TypeScript blocks of one page, with their preludes. */
export function docBlocks(page: string, text = readFileSync(join(root, page), 'utf8')): DocBlock[] {
  const lines = text.split('\n')
  const blocks: DocBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = fence.exec(lines[i] as string)
    if (!open) continue
    const [, indent = '', marker = '', lang = '', rest = ''] = open
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const line = lines[j] as string
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line)
      if (close && close[1]?.[0] === marker[0] && (close[1]?.length ?? 0) >= marker.length) break
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())
    }
    if (lang === 'ts' || lang === 'typescript') {
      const info = rest.trim()
      const nocheck = /^nocheck\b:?\s*(.*)$/.exec(info)
      blocks.push({
        page,
        line: i + 2,
        prelude: preludeAbove(lines, i),
        code: body.join('\n'),
        ...(nocheck ? { nocheck: nocheck[1] ?? '' } : {}),
      })
    }
    i = j
  }
  return blocks
}

/** The prelude comment that ends on the line above the fence at `at`, or ''. */
function preludeAbove(lines: readonly string[], at: number): string {
  if (lines[at - 1]?.trim() !== '-->') return ''
  for (let k = at - 2; k >= 0; k--) {
    const line = (lines[k] as string).trim()
    if (line === preludeStart) return lines.slice(k + 1, at - 1).join('\n')
    if (line.includes('-->')) return ''
  }
  return ''
}

/** One compile error: `page:line:column TS<code> message`. */
export type SnippetError = string

/**
 * Compiles `blocks` (the checked ones) as one program against the sources of the workspace packages,
 * and returns their errors, placed at the page line the error is on.
 */
export function compileBlocks(blocks: readonly DocBlock[]): SnippetError[] {
  const packageDir = join(root, 'packages', 'conformance')
  const config = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile)
  const { options } = ts.parseJsonConfigFileContent(
    { compilerOptions: config.config.compilerOptions, files: [] },
    ts.sys,
    packageDir,
  )
  options.noEmit = true
  options.sourceMap = false
  options.declaration = false

  // Each block is a file of its own (an ES module, so blocks never share a global name), in a folder
  // of this package so that its imports resolve from this package's dependencies.
  const files = new Map<string, { block: DocBlock; preludeLines: number; text: string }>()
  for (const block of blocks) {
    const name = join(packageDir, '.snippets', block.page.replaceAll('/', '__'), `L${block.line}.ts`)
    const preludeLines = block.prelude === '' ? 0 : block.prelude.split('\n').length
    const text = `${block.prelude === '' ? '' : `${block.prelude}\n`}${block.code}\nexport {}\n`
    files.set(name, { block, preludeLines, text })
  }
  const host = ts.createCompilerHost(options, true)
  const readFile = host.readFile.bind(host)
  const fileExists = host.fileExists.bind(host)
  const getSourceFile = host.getSourceFile.bind(host)
  host.readFile = (name) => files.get(name)?.text ?? readFile(name)
  host.fileExists = (name) => files.has(name) || fileExists(name)
  host.getSourceFile = (name, language, onError, shouldCreate) => {
    const file = files.get(name)
    return file
      ? ts.createSourceFile(name, file.text, language, true, ts.ScriptKind.TS)
      : getSourceFile(name, language, onError, shouldCreate)
  }

  const program = ts.createProgram({ rootNames: [...files.keys()], options, host })
  // Only the blocks are checked: the packages' own sources are their typecheck's business, and checking
  // them again here would take most of the time.
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...[...files.keys()].flatMap((name) => {
      const source = program.getSourceFile(name)
      return source
        ? [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
        : []
    }),
  ]
  const errors: SnippetError[] = diagnostics.flatMap((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')
    const file = diagnostic.file && files.get(diagnostic.file.fileName)
    if (!diagnostic.file || !file) {
      // An error in a package's own sources or in the options fails here too, named as it is.
      const where = diagnostic.file ? relative(root, diagnostic.file.fileName) : 'options'
      return [`${where}: TS${diagnostic.code} ${message}`]
    }
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
    const where =
      line < file.preludeLines
        ? `${file.block.page}:${file.block.line} (prelude line ${line + 1})`
        : `${file.block.page}:${file.block.line + line - file.preludeLines}:${character + 1}`
    return [`${where} TS${diagnostic.code} ${message}`]
  })
  return errors
}
