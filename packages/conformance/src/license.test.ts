import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { root } from './doc-snippets.js'

// Every published package carries the repository's LICENSE (Apache-2.0) in its folder, which npm and
// pnpm put in the tarball whatever `files` says, and declares the same license (issue 20).
const license = readFileSync(join(root, 'LICENSE'), 'utf8')
const published = readdirSync(join(root, 'packages')).filter(
  (dir) => !JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')).private,
)

describe('LICENSE (issue 20)', () => {
  it('is the Apache License 2.0', () => {
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/)
    expect(published.length).toBeGreaterThan(10)
  })

  it.each(published)('ships with @zerotrust/%s', (dir) => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'))
    expect(manifest.license).toBe('Apache-2.0')
    expect(readFileSync(join(root, 'packages', dir, 'LICENSE'), 'utf8')).toBe(license)
  })
})
