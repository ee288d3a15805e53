import { type Auth, type Authenticator, type RequestLike, renderError, ZeroTrustError } from '@zerotrust/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { failureLimit } from './failure-limit.js'

const auth: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: [],
  clientId: undefined,
  scopes: [],
  claims: {},
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: undefined,
  cnf: undefined,
}

/** An authenticator that accepts `Bearer good`, answers 503 to `Bearer down`, and 401 to anything else. */
function counting(): Authenticator & { calls: number } {
  const inner = {
    layer: 'jwt',
    calls: 0,
    async authenticate(req: RequestLike): Promise<Auth> {
      inner.calls += 1
      const header = req.headerValues('authorization')[0]
      if (header === 'Bearer good') return auth
      if (header === 'Bearer down') throw new ZeroTrustError('dependency_unavailable', 'jwks down')
      throw new ZeroTrustError('invalid_token', 'bad token', { reason: 'signature' })
    },
    accepts: () => true,
  }
  return inner
}
const from = (remoteAddress: string | undefined, token = 'bad'): RequestLike => ({
  method: 'GET',
  origin: undefined,
  target: '/orders',
  path: '/orders',
  remoteAddress,
  headerValues: (name) => (name === 'authorization' ? [`Bearer ${token}`] : []),
})
async function outcome(layer: Authenticator, req: RequestLike): Promise<string> {
  try {
    await layer.authenticate(req)
    return 'ok'
  } catch (error) {
    return (error as ZeroTrustError).code
  }
}

describe('failureLimit', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-12-03T10:00:00.000Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('refuses a peer past its failures without running the authenticator, until the window ends', async () => {
    const inner = counting()
    const layer = failureLimit(inner, { failures: 3, windowSeconds: 30 })
    expect(layer.layer).toBe('jwt')
    const peer = from('192.0.2.7')
    const seen = []
    for (let i = 0; i < 5; i++) seen.push(await outcome(layer, peer))
    expect(seen).toEqual(['invalid_token', 'invalid_token', 'invalid_token', 'rate_limited', 'rate_limited'])
    expect(inner.calls).toBe(3)
    // A good token from that peer waits too: the peer, not the token, is limited.
    expect(await outcome(layer, from('192.0.2.7', 'good'))).toBe('rate_limited')
    // Another peer is not.
    expect(await outcome(layer, from('192.0.2.8', 'good'))).toBe('ok')
    vi.advanceTimersByTime(29_999)
    expect(await outcome(layer, peer)).toBe('rate_limited')
    vi.advanceTimersByTime(1)
    expect(await outcome(layer, from('192.0.2.7', 'good'))).toBe('ok')
  })

  it('answers 429 too_many_failures with Retry-After and the RateLimit fields', async () => {
    const layer = failureLimit(counting(), { failures: 1, windowSeconds: 60 })
    await outcome(layer, from('192.0.2.7'))
    vi.advanceTimersByTime(20_000)
    const error = await Promise.resolve(layer.authenticate(from('192.0.2.7'))).catch(
      (e: unknown) => e as ZeroTrustError,
    )
    expect(error).toMatchObject({ code: 'rate_limited', status: 429, reason: 'too_many_failures' })
    expect(renderError(error as ZeroTrustError).headers).toMatchObject({
      'retry-after': '40',
      'ratelimit-policy': '"auth-failures";q=1;w=60',
      ratelimit: '"auth-failures";r=0;t=40',
    })
  })

  it('does not count our own outages (5xx) nor successes', async () => {
    const layer = failureLimit(counting(), { failures: 1 })
    expect(await outcome(layer, from('192.0.2.7', 'down'))).toBe('dependency_unavailable')
    expect(await outcome(layer, from('192.0.2.7', 'down'))).toBe('dependency_unavailable')
    expect(await outcome(layer, from('192.0.2.7', 'good'))).toBe('ok')
    expect(await outcome(layer, from('192.0.2.7'))).toBe('invalid_token')
    expect(await outcome(layer, from('192.0.2.7'))).toBe('rate_limited')
  })

  it('counts an IPv6 /64 as one peer and an IPv4-mapped address as its IPv4 address', async () => {
    const layer = failureLimit(counting(), { failures: 1 })
    await outcome(layer, from('2001:db8:0:1::5'))
    expect(await outcome(layer, from('2001:db8:0:1:abcd::9'))).toBe('rate_limited')
    expect(await outcome(layer, from('2001:db8:0:2::5'))).toBe('invalid_token')
    await outcome(layer, from('::ffff:192.0.2.7'))
    expect(await outcome(layer, from('192.0.2.7'))).toBe('rate_limited')
  })

  it('never reads a forwarded header; requests of unknown peers share one count', async () => {
    const layer = failureLimit(counting(), { failures: 1 })
    const forwarded = (address: string): RequestLike => ({
      ...from(undefined),
      headerValues: (name) =>
        name === 'x-forwarded-for' ? [address] : name === 'authorization' ? ['Bearer bad'] : [],
    })
    await outcome(layer, forwarded('203.0.113.1'))
    expect(await outcome(layer, forwarded('203.0.113.2'))).toBe('rate_limited')
  })

  it('keeps at most maxPeers counts, forgetting the oldest', async () => {
    const layer = failureLimit(counting(), { failures: 1, maxPeers: 2 })
    await outcome(layer, from('192.0.2.1'))
    await outcome(layer, from('192.0.2.2'))
    await outcome(layer, from('192.0.2.3'))
    expect(await outcome(layer, from('192.0.2.1'))).toBe('invalid_token')
    expect(await outcome(layer, from('192.0.2.3'))).toBe('rate_limited')
  })

  it('counts in this process while its Redis fails, so each replica still bounds the peer (issue 18)', async () => {
    // An ioredis-shaped client whose every command fails at once, as a disconnected one does.
    const broken = { status: 'end', defineCommand() {} }
    const inner = counting()
    const layer = failureLimit(inner, { failures: 2, redis: broken as never })
    const seen = []
    for (let i = 0; i < 4; i++) seen.push(await outcome(layer, from('192.0.2.7')))
    expect(seen).toEqual(['invalid_token', 'invalid_token', 'rate_limited', 'rate_limited'])
    expect(inner.calls).toBe(2)
  })

  it("passes the inner authenticator's accepts on, for anyOf", () => {
    expect(failureLimit(counting()).accepts?.(from(undefined))).toBe(true)
  })

  it.each([
    [{ failures: 0 }, 'failureLimit: "failures" option must be a positive integer'],
    [{ windowSeconds: -1 }, 'failureLimit: "windowSeconds" option'],
    [{ maxPeers: 1.5 }, 'failureLimit: "maxPeers" option'],
    [{ peers: 1 }, 'failureLimit: "peers" option is not recognized'],
    [{ redis: {} }, 'failureLimit: "redis" option must be an ioredis client'],
    [{ operationTimeout: 0 }, 'failureLimit: "operationTimeout" option'],
    [{ prefix: 7 }, 'failureLimit: "prefix" option must be a string'],
  ])('refuses %j at construction', (options, message) => {
    expect(() => failureLimit(counting(), options as never)).toThrow(message)
  })

  it('needs an authenticator', () => {
    expect(() => failureLimit({} as never)).toThrow(TypeError)
  })
})
