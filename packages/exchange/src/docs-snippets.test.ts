import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// A TypeScript block of these pages that follows `<!-- snippet: test/snippets/NAME.ts -->` is that file,
// which `pnpm typecheck` compiles with the package: a block edited in a page alone fails here, and a
// snippet that stops compiling fails the type check.
const root = fileURLToPath(new URL('../../../', import.meta.url))
const pages = ['packages/exchange/README.md', 'docs/guides/exchange.md']
const marked = /<!-- snippet: (\S+) -->\n```ts\n([\s\S]*?)```/g

describe('docs snippets', () => {
  it.each(pages)('%s shows its snippets as they are compiled', (page) => {
    const text = readFileSync(join(root, page), 'utf8')
    const blocks = [...text.matchAll(marked)]
    expect(blocks.length).toBeGreaterThan(0)
    for (const [, path, block] of blocks) {
      expect(block, `${page}: ${path}`).toBe(
        readFileSync(join(root, 'packages/exchange', path as string), 'utf8'),
      )
    }
  })
})
