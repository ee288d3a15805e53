import { describe, expect, it } from 'vitest'
import { challengeParam, type DemoResult, runDemo } from '../src/demo.js'

describe('the demo', () => {
  it('shows the four outcomes and reports every decision', async () => {
    const lines: string[] = []
    const { steps, events }: DemoResult = await runDemo({ log: (line) => lines.push(line) })

    expect(
      steps.map(({ method, path, status, error, scope }) => ({ method, path, status, error, scope })),
    ).toEqual([
      { method: 'GET', path: '/orders', status: 200, error: undefined, scope: undefined },
      { method: 'GET', path: '/orders', status: 401, error: undefined, scope: undefined },
      { method: 'GET', path: '/orders', status: 401, error: 'invalid_token', scope: undefined },
      { method: 'POST', path: '/orders', status: 403, error: 'insufficient_scope', scope: 'orders:write' },
    ])
    const [allowed, missing, expired, forbidden] = steps
    expect(allowed?.wwwAuthenticate).toBeUndefined()
    // RFC 6750 §3.1: no error attribute when the request carries no credentials.
    expect(missing?.wwwAuthenticate).toBe('Bearer realm="orders"')
    expect(expired?.wwwAuthenticate).toMatch(/^Bearer realm="orders", error="invalid_token"/)
    expect(forbidden?.wwwAuthenticate).toMatch(/^Bearer /)

    expect(events.map(({ layer, outcome, code, method }) => ({ layer, outcome, code, method }))).toEqual([
      { layer: 'jwt', outcome: 'allow', code: 'ok', method: 'GET' },
      { layer: 'scopes', outcome: 'allow', code: 'ok', method: 'GET' },
      { layer: 'jwt', outcome: 'deny', code: 'missing_credentials', method: 'GET' },
      { layer: 'jwt', outcome: 'deny', code: 'invalid_token', method: 'GET' },
      { layer: 'jwt', outcome: 'allow', code: 'ok', method: 'POST' },
      { layer: 'scopes', outcome: 'deny', code: 'insufficient_scope', method: 'POST' },
    ])
    expect(events[3]).toMatchObject({ reason: 'expired', status: 401 })
    expect(events[0]).toMatchObject({ subject: 'orders-client', clientId: 'orders-client' })
    // Audit events carry identifiers, never tokens.
    expect(JSON.stringify(events)).not.toMatch(/eyJ[\w-]+\.[\w-]+\./)

    const output = lines.join('\n')
    expect(output).toContain('WWW-Authenticate: Bearer realm="orders"')
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
