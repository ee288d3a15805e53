// The long soak, in its own process so a V8 abort cannot take the test runner with it. It re-preparses
// `sets` policy sets through reload() and makes `perSet` decisions on each, checking every answer.
// Usage: [SOAK_NO_REMEDY=1] node [--no-turbo-inline-js-wasm-calls] --conditions=@zerotrust/source --import tsx
//   test/soak-child.ts <sets> <perSet>
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Auth } from '@zerotrust/core'
import { routed, userAuth } from './helpers.js'

const sets = Number(process.argv[2] ?? 5000)
const perSet = Number(process.argv[3] ?? 12)
const dir = mkdtempSync(join(tmpdir(), 'cedar-soak-child-'))

function policySet(n: number): string {
  return `@id("owners") permit (principal, action == Action::"GET /orders/:id", resource)
when { resource.owner == principal && context.n >= ${n % 5} };
@id("admins-${n}") permit (principal in Group::"admins-${n % 7}", action, resource is Order)
when { ["a", "b"].contains(context.s) && ip("10.0.0.1").isInRange(ip("10.0.0.0/8")) };
@id("blocked") forbid (principal, action, resource)
when { context has flag && context.flag == "x${n}" && decimal("1.5").lessThan(decimal("2.0")) };
@id("like-${n}") permit (principal, action == Action::"GET /reports/:id", resource)
when { context.s like "*${n % 3}*" };`
}

async function main(): Promise<void> {
  const { cedarAuthorizer } = await import('../src/index.js')
  writeFileSync(join(dir, 'soak.cedar'), policySet(0))
  let i = 0
  const policies = cedarAuthorizer({
    policies: { dir },
    // SOAK_NO_REMEDY=1: leave V8's flags alone, to see the crash the remedy prevents.
    disableWasmCallInlining: process.env.SOAK_NO_REMEDY !== '1',
    resource: (req) => ({ type: 'Order', id: req.params?.id ?? 'none' }),
    time: false,
    context: () => ({ n: i % 9, s: i % 2 === 0 ? 'a' : 'c1', flag: `x${i % 13}` }),
    entities: (req, auth: Auth) => [
      {
        uid: { type: 'Order', id: req.params?.id ?? 'none' },
        attrs: { owner: { __entity: { type: 'User', id: `u${i % 4}` } } },
      },
      { uid: { type: 'User', id: auth.subject ?? '' }, parents: [{ type: 'Group', id: `admins-${i % 7}` }] },
    ],
  })
  let decisions = 0
  for (let set = 1; set <= sets; set++) {
    if (set % 500 === 0) console.error(`soak: ${set} sets, ${decisions} decisions`)
    writeFileSync(join(dir, 'soak.cedar'), policySet(set))
    await policies.reload()
    for (let k = 0; k < perSet; k++, i++) {
      const route = k % 3 === 0 ? '/reports/:id' : '/orders/:id'
      const decision = await policies.authorize(routed('GET', route, { id: `o${i}` }), userAuth(`u${i % 4}`))
      if (decision.allowed === undefined) throw new Error('no decision')
      decisions++
    }
  }
  console.log(JSON.stringify({ sets, decisions }))
}

try {
  await main()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
