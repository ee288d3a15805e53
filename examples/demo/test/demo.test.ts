// The demo end to end (issue 21): the fleet starts on loopback, every step answers as zero trust demands,
// and every service reports its decisions. Generous bounds: the machine running it may be loaded.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runDemo } from '../src/demo.js'

const dir = mkdtempSync(join(tmpdir(), 'zerotrust-demo-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the zero-trust fleet demo', () => {
  it('answers every step as expected, reports every decision, and draws the calls (issue 21)', async () => {
    const lines: string[] = []
    const diagramFile = join(dir, 'sequence.mmd')
    const result = await runDemo({ log: (line) => lines.push(line), diagramFile })

    expect(
      result.steps.filter((step) => !step.ok).map(({ title, answers, why }) => ({ title, answers, why })),
    ).toEqual([])
    expect(result.ok).toBe(true)
    // The first status of each step; the burst's requests run at once, so its least.
    expect(
      result.steps.map((step, index) => (index === 10 ? Math.min(...step.statuses) : step.statuses[0])),
    ).toEqual([
      200, // alice reads her order
      403, // bob's order, by policy
      200, // carol, tenant admin
      403, // refund without the scope
      401, // replayed DPoP proof
      403, // user token straight to orders, from another workload
      0, // another trust domain: no HTTP answer
      201, // refund
      201, // the retried refund, replayed
      403, // refund of an order over 90 days old
      200, // the burst: some allowed
      200, // rotation
      503, // identity provider down
    ])
    // The user token straight to orders: the wrong workload, then (even from the edge's own identity) not
    // a token of the edge.
    expect(result.steps[5]?.statuses).toEqual([403, 401])
    expect(result.steps[10]?.statuses.filter((status) => status === 200).length).toBe(10)
    expect(result.steps[10]?.statuses.filter((status) => status === 429).length).toBe(4)
    expect(result.steps[12]?.statuses).toEqual([503, 200])

    const denials = result.audit
      .filter((record) => record.outcome !== 'allow')
      .map((record) => `${record.service} ${record.layer} ${record.code} ${record.reason ?? ''}`.trim())
    expect(denials).toEqual(
      expect.arrayContaining([
        'orders cedar access_denied denied_by_policy',
        'edge scopes insufficient_scope missing_scope',
        'edge dpop/jwt invalid_dpop_proof replayed',
        'orders workload&jwt access_denied workload_not_allowed',
        'orders workload&jwt invalid_token unknown_key',
        'edge ratelimit rate_limited budget_exhausted',
        'edge dpop/jwt dependency_unavailable jwks_stale',
      ]),
    )
    // The foreign workload's handshake, refused before any HTTP: reported by orders' server.
    expect(denials.some((denial) => denial.startsWith('orders tls handshake_refused'))).toBe(true)
    // billing took the charge once and replayed it once, from orders acting for carol.
    const billing = result.audit.filter(
      (record) => record.service === 'billing' && record.layer === 'idempotency',
    )
    expect(billing.map((record) => record.reason)).toEqual(['claimed', 'replayed'])
    expect(billing.every((record) => record.user === 'carol')).toBe(true)
    expect(new Set(billing.map((record) => record.workload))).toEqual(
      new Set(['spiffe://shop.example.com/ns/shop/sa/orders']),
    )
    // Audit events carry identifiers, never tokens or proofs.
    expect(JSON.stringify(result.audit)).not.toMatch(/eyJ[\w-]+\.[\w-]+\./)

    const output = lines.join('\n')
    expect(output).toMatch(/stores {13}(Redis at 127\.0\.0\.1:6379|in memory)/)
    expect(output).toContain('audit stream of every service')
    expect(output).toContain(`all ${result.steps.length} steps answered as expected`)
    expect(existsSync(diagramFile)).toBe(true)
    const diagram = readFileSync(diagramFile, 'utf8')
    expect(diagram.startsWith('sequenceDiagram\n')).toBe(true)
    expect(diagram).toContain('edge->>orders: GET /orders/o-1001')
    expect(diagram).toContain('orders->>billing: POST /v1/charges')
  }, 180_000)
})
