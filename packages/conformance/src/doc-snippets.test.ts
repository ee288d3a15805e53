import { describe, expect, it } from 'vitest'
import { compileBlocks, docBlocks, documentationPages } from './doc-snippets.js'

// Every TypeScript block of README.md, docs/, packages/*/README.md and examples/*/README.md compiles
// under the repository's strict options, against the packages as they are now: a snippet that stops
// compiling, or a page edited into code that never compiled, fails here (issue 20). How a block gets
// what it uses without showing it, and how one is excused: see doc-snippets.ts.
const blocks = documentationPages().flatMap((page) => docBlocks(page))

describe('documentation snippets (issue 20)', () => {
  it('finds the TypeScript blocks of the pages', () => {
    expect(blocks.length).toBeGreaterThan(50)
  })

  it('compiles every block, as one program', () => {
    expect(compileBlocks(blocks.filter((block) => block.nocheck === undefined))).toEqual([])
  }, 120_000)

  it('excuses a block from compiling only with a reason', () => {
    const unexplained = blocks.filter((block) => block.nocheck !== undefined && block.nocheck.length < 10)
    expect(unexplained.map((block) => `${block.page}:${block.line}`)).toEqual([])
  })

  it('reads fences, indented blocks and preludes as a page renders them', () => {
    const page = [
      'Text',
      '<!-- snippet-prelude',
      "declare const app: import('express').Express",
      '-->',
      '```ts',
      'app.listen(0)',
      '```',
      '',
      '1. A step',
      '   ```typescript nocheck: a fragment of an options object',
      '   windowMs: 1000,',
      '   ```',
      '````md',
      '```ts',
      'not a block of this page',
      '```',
      '````',
    ].join('\n')
    expect(docBlocks('page.md', page)).toEqual([
      {
        page: 'page.md',
        line: 6,
        prelude: "declare const app: import('express').Express",
        code: 'app.listen(0)',
      },
      {
        page: 'page.md',
        line: 11,
        prelude: '',
        code: 'windowMs: 1000,',
        nocheck: 'a fragment of an options object',
      },
    ])
  })

  it('places an error at the line of the page it is on', () => {
    const errors = compileBlocks(
      docBlocks(
        'page.md',
        [
          '# Page',
          '',
          '<!-- snippet-prelude',
          'const n = 1',
          '-->',
          '```ts',
          'const s: string = n',
          '```',
        ].join('\n'),
      ),
    )
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^page\.md:7:7 TS2322 /)
  }, 120_000)
})
