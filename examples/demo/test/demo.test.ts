import { describe, expect, it } from 'vitest'
import { challengeParam, type DemoResult, runDemo } from '../src/demo.js'

describe('the demo', () => {
  it('shows each layer allowing and refusing, and reports every decision', async () => {
    const lines: string[] = []
    const { steps, events }: DemoResult = await runDemo({ log: (line) => lines.push(line) })

    expect(
      steps.map(({ method, path, status, error, scope, replayed }) => ({
        method,
        path,
        status,
        error,
        scope,
        replayed,
      })),
    ).toEqual([
      { method: 'GET', path: '/orders', status: 200, error: undefined, scope: undefined, replayed: false },
      { method: 'GET', path: '/orders', status: 401, error: undefined, scope: undefined, replayed: false },
      {
        method: 'GET',
        path: '/orders',
        status: 401,
        error: 'invalid_token',
        scope: undefined,
        replayed: false,
      },
      {
        method: 'POST',
        path: '/orders',
        status: 403,
        error: 'insufficient_scope',
        scope: 'orders:write',
        replayed: false,
      },
      // DPoP: proof accepted, its replay refused, the bound token refused as a bearer token.
      { method: 'GET', path: '/orders', status: 200, error: undefined, scope: undefined, replayed: false },
      {
        method: 'GET',
        path: '/orders',
        status: 401,
        error: 'invalid_dpop_proof',
        scope: undefined,
        replayed: false,
      },
      {
        method: 'GET',
        path: '/orders',
        status: 401,
        error: 'invalid_token',
        scope: undefined,
        replayed: false,
      },
      // Idempotency: created once, the retry replayed, the key reused with another payload refused.
      { method: 'POST', path: '/orders', status: 201, error: undefined, scope: undefined, replayed: false },
      { method: 'POST', path: '/orders', status: 201, error: undefined, scope: undefined, replayed: true },
      { method: 'POST', path: '/orders', status: 422, error: undefined, scope: undefined, replayed: false },
      // Cedar: your own order, someone else's.
      {
        method: 'GET',
        path: '/orders/o-2',
        status: 200,
        error: undefined,
        scope: undefined,
        replayed: false,
      },
      {
        method: 'GET',
        path: '/orders/o-1',
        status: 403,
        error: undefined,
        scope: undefined,
        replayed: false,
      },
    ])
    const [, missing, expired, forbidden] = steps
    // RFC 6750 §3.1: no error attribute when the request carries no credentials; both schemes offered.
    expect(missing?.wwwAuthenticate).toMatch(/^DPoP realm="orders", algs="[^"]+", Bearer realm="orders"$/)
    expect(expired?.wwwAuthenticate).toMatch(/^Bearer realm="orders", error="invalid_token"/)
    expect(forbidden?.wwwAuthenticate).toMatch(/^Bearer /)
    expect(steps[7]?.body).toEqual(steps[8]?.body)
    expect(steps[7]?.body).toMatchObject({ id: 'o-2', item: 'green tea', createdBy: 'orders-client' })

    const summary = events.map(({ layer, outcome, code, reason }) =>
      `${layer} ${outcome} ${code} ${reason ?? ''}`.trim(),
    )
    expect(summary).toEqual([
      'dpop/jwt allow ok',
      'scopes allow ok',
      'dpop/jwt deny missing_credentials',
      'dpop/jwt deny invalid_token expired',
      'dpop/jwt allow ok',
      'scopes deny insufficient_scope missing_scope',
      'dpop/jwt allow ok',
      'scopes allow ok',
      'dpop/jwt deny invalid_dpop_proof replayed',
      'dpop/jwt deny invalid_token dpop_bound',
      'dpop/jwt allow ok',
      'scopes allow ok',
      'idempotency allow ok claimed',
      'dpop/jwt allow ok',
      'scopes allow ok',
      'idempotency allow ok replayed',
      'dpop/jwt allow ok',
      'scopes allow ok',
      'idempotency deny idempotency_key_reused fingerprint_mismatch',
      'dpop/jwt allow ok',
      'cedar allow ok',
      'dpop/jwt allow ok',
      'cedar deny access_denied denied_by_policy',
    ])
    expect(events[0]).toMatchObject({ subject: 'orders-client', clientId: 'orders-client' })
    expect(events.find((event) => event.layer === 'cedar')?.policies).toEqual(['owners-read-their-orders'])
    // Audit events carry identifiers, never tokens or proofs.
    expect(JSON.stringify(events)).not.toMatch(/eyJ[\w-]+\.[\w-]+\./)

    const output = lines.join('\n')
    expect(output).toContain('Idempotent-Replayed: true')
    expect(output).toContain('decision events reported to onDecision:')
  })
})

describe('challengeParam', () => {
  it('reads quoted and bare auth-params', () => {
    const header = 'Bearer realm="a \\"b\\"", error=invalid_token, scope="x y"'
    expect(challengeParam(header, 'realm')).toBe('a "b"')
    expect(challengeParam(header, 'error')).toBe('invalid_token')
    expect(challengeParam(header, 'scope')).toBe('x y')
    expect(challengeParam(header, 'error_description')).toBeUndefined()
    expect(challengeParam(undefined, 'error')).toBeUndefined()
  })
})
