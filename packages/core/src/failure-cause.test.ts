import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BoundedFetchError } from './bounded-fetch.js'
import { type DecisionEvent, reportDecision } from './decision.js'
import { ZeroTrustError } from './errors.js'
import { failureCause, failureCauses } from './failure-cause.js'

const coded = (code: string, cause?: unknown) => Object.assign(new Error('x', { cause }), { code })
// What fetch throws: a TypeError whose cause is the socket's error.
const fetchFailed = (cause: unknown) => new TypeError('fetch failed', { cause })
const network = (cause: unknown) =>
  new BoundedFetchError('ERR_FETCH_NETWORK', 'the request failed', { cause })

describe('failureCause (issue 20)', () => {
  it.each([
    ['ENOTFOUND', 'dns'],
    ['EAI_AGAIN', 'dns'],
    ['ECONNREFUSED', 'refused'],
    ['EHOSTUNREACH', 'unreachable'],
    ['ECONNRESET', 'reset'],
    ['UND_ERR_SOCKET', 'reset'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'],
    ['CERT_HAS_EXPIRED', 'tls'],
  ])('reads %s under the bounded fetch and fetch as %s', (code, cause) => {
    expect(failureCause(network(fetchFailed(coded(code))))).toBe(cause)
  })

  it("reads the bounded fetch's own codes, and a network failure without a code beneath as network", () => {
    expect(failureCause(new BoundedFetchError('ERR_FETCH_TIMEOUT', 'x'))).toBe('timeout')
    expect(failureCause(new BoundedFetchError('ERR_FETCH_TOO_LARGE', 'x'))).toBe('too_large')
    expect(failureCause(new BoundedFetchError('ERR_FETCH_STATUS', 'x', { status: 500 }))).toBe('http_status')
    expect(failureCause(new BoundedFetchError('ERR_FETCH_NOT_JSON', 'x'))).toBe('bad_json')
    expect(failureCause(new BoundedFetchError('ERR_FETCH_ABORTED', 'x'))).toBe('aborted')
    expect(failureCause(network(fetchFailed(new Error('other'))))).toBe('network')
  })

  it('walks through our errors and an AggregateError, and names a TimeoutError and an AbortError', () => {
    const wrapped = new ZeroTrustError('dependency_unavailable', 'x', {
      cause: network(fetchFailed(coded('ECONNREFUSED'))),
    })
    expect(failureCause(wrapped)).toBe('refused')
    const both = new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')])
    expect(failureCause(fetchFailed(both))).toBe('refused')
    expect(failureCause(new DOMException('t', 'TimeoutError'))).toBe('timeout')
    expect(failureCause(new DOMException('a', 'AbortError'))).toBe('aborted')
  })

  it('never reads a message, and stops on a chain that is too deep or cyclic', () => {
    expect(failureCause(new Error('getaddrinfo ENOTFOUND idp.example.com'))).toBeUndefined()
    expect(failureCause('ECONNREFUSED')).toBeUndefined()
    const cyclic: { cause?: unknown } = {}
    cyclic.cause = cyclic
    expect(failureCause(cyclic)).toBeUndefined()
    let deep: unknown = coded('ENOTFOUND')
    for (let i = 0; i < 20; i++) deep = new Error('wrap', { cause: deep })
    expect(failureCause(deep)).toBeUndefined()
    for (const cause of failureCauses) expect(cause).toMatch(/^[a-z_]+$/)
  })

  it("puts the cause on a dependency_unavailable event only, never on another code's (issue 20)", () => {
    const events: DecisionEvent[] = []
    const req = { method: 'GET', path: '/orders' }
    const socket = network(fetchFailed(coded('ENOTFOUND')))
    reportDecision(
      (e) => events.push(e),
      'jwt',
      req,
      performance.now(),
      undefined,
      new ZeroTrustError('dependency_unavailable', 'x', { reason: 'jwks_unavailable', cause: socket }),
    )
    reportDecision(
      (e) => events.push(e),
      'jwt',
      req,
      performance.now(),
      undefined,
      new ZeroTrustError('invalid_token', 'x', { reason: 'expired', cause: socket }),
    )
    reportDecision(
      (e) => events.push(e),
      'jwt',
      req,
      performance.now(),
      undefined,
      new ZeroTrustError('dependency_unavailable', 'x', { reason: 'jwks_stale' }),
    )
    expect(events.map((e) => e.cause)).toEqual(['dns', undefined, undefined])
    expect('cause' in (events[2] as object)).toBe(false)
  })

  it('lists in docs/decision-event.schema.json exactly the causes the code gives', () => {
    const schema = JSON.parse(
      readFileSync(new URL('../../../docs/decision-event.schema.json', import.meta.url), 'utf8'),
    ) as { properties: { cause: { enum: string[] } } }
    expect([...schema.properties.cause.enum].sort()).toEqual([...failureCauses].sort())
  })
})
