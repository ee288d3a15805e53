// Regression test for issue 12 (the audit of fire-and-forget promises): a watcher's reload reports to
// `onReload` from a timer, where nobody awaits; an async callback that rejects must not become an
// unhandled rejection, which ends the process.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it, vi } from 'vitest'
import * as seed from '../test/fixtures/orders.js'
import { cedarAuthorizer } from './index.js'

const fixtures = fileURLToPath(new URL('../test/fixtures/', import.meta.url))

const cleanup: (() => void)[] = []
afterEach(() => {
  for (const step of cleanup.splice(0).reverse()) step()
})

it('issue 12: an async onReload that rejects after a watched reload does not crash the process', async () => {
  const rejections: unknown[] = []
  const listener = (reason: unknown) => rejections.push(reason)
  process.on('unhandledRejection', listener)
  cleanup.push(() => process.off('unhandledRejection', listener))
  const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
  cleanup.push(() => warnings.mockRestore())
  const dir = mkdtempSync(join(tmpdir(), 'cedar-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(join(fixtures, 'policies'), dir, { recursive: true })

  let calls = 0
  const policies = cedarAuthorizer({
    policies: { dir },
    schema: { file: join(fixtures, 'orders.cedarschema') },
    resource: seed.resource,
    entities: seed.entities,
    now: () => seed.now,
    watch: { debounceMs: 20 },
    onReload: async () => {
      calls += 1
      throw new Error('the log sink is down')
    },
  })
  cleanup.push(() => policies.close())

  writeFileSync(join(dir, 'extra.cedar'), 'forbid (principal, action, resource) when { false };\n')
  await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(1), { timeout: 4000, interval: 10 })
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect(rejections).toEqual([])
  expect(warnings).toHaveBeenCalledWith('zerotrust: the cedar "onReload" callback threw', 'ZeroTrustWarning')
})
