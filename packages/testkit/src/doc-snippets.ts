import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * What a page's TypeScript blocks are against the files `pnpm typecheck` compiles. A block that follows
 * `<!-- snippet: test/snippets/NAME.ts -->` must be that file, byte for byte, so a block edited in the
 * page alone, or a snippet that stops compiling, fails the build.
 */
export interface PageSnippets {
  /** The blocks marked as a snippet file. */
  readonly marked: number
  /** The TypeScript blocks without a mark, which nothing compiles. */
  readonly unmarked: number
  /** One line per marked block that differs from its file: `page: path`. */
  readonly mismatches: readonly string[]
}

const root = fileURLToPath(new URL('../../../', import.meta.url))
const marked = /<!-- snippet: (\S+) -->\n```ts\n([\s\S]*?)```/g
const tsBlock = /```ts\n/g

/**
 * Reads `page` (a path from the repository root) and holds each marked block to its file under
 * `packageDir` (also from the root).
 *
 * @example
 * expect(pageSnippets('docs/guides/client.md', 'packages/client').mismatches).toEqual([])
 */
export function pageSnippets(page: string, packageDir: string): PageSnippets {
  const text = readFileSync(join(root, page), 'utf8')
  const blocks = [...text.matchAll(marked)]
  const mismatches: string[] = []
  for (const [, path, block] of blocks) {
    if (block !== readFileSync(join(root, packageDir, path as string), 'utf8'))
      mismatches.push(`${page}: ${path}`)
  }
  const all = text.match(tsBlock)?.length ?? 0
  return { marked: blocks.length, unmarked: all - blocks.length, mismatches }
}
