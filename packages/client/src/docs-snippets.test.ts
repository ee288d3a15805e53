import { pageSnippets } from '@zerotrust/testkit/docs'
import { describe, expect, it } from 'vitest'

// A TypeScript block of these pages that follows `<!-- snippet: test/snippets/NAME.ts -->` is that file,
// which `pnpm typecheck` compiles with the package: a block edited in a page alone fails here, and a
// snippet that stops compiling fails the type check (issue 16).
const pages = ['packages/client/README.md', 'docs/guides/client.md']

describe('docs snippets', () => {
  it.each(pages)('%s shows its snippets as they are compiled', (page) => {
    const snippets = pageSnippets(page, 'packages/client')
    expect(snippets.marked).toBeGreaterThan(0)
    expect(snippets.mismatches).toEqual([])
    // Every TypeScript block of the page is a checked snippet.
    expect(snippets.unmarked).toBe(0)
  })
})
