import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { type Auth, type RequestLike, renderError, ZeroTrustError } from '@zerotrust/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { rateLimit } from './rate-limit.js'

const auth = (over: Partial<Auth> = {}): Auth => ({
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: ['api://orders'],
  clientId: 'web-app',
  scopes: ['orders:read'],
  claims: {},
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: undefined,
  cnf: undefined,
  ...over,
})
const anonymous = auth({ subject: undefined, clientId: undefined, issuer: undefined })
const request = (over: Partial<RequestLike> = {}): RequestLike => ({
  method: 'GET',
  origin: 'https://api.example.com',
  target: '/orders',
  path: '/orders',
  headerValues: () => [],
  ...over,
})

/** Runs `n` requests in turn and returns each decision's status (200 when allowed). */
async function statuses(
  limiter: ReturnType<typeof rateLimit>,
  n: number,
  req = request(),
  who = auth(),
): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const decision = await limiter.authorize(req, who)
    out.push(decision.allowed ? 200 : decision.error.status)
  }
  return out
}

describe('rateLimit on the memory store', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-12-03T10:00:00.000Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('allows a burst of exactly the limit and refuses the next request', async () => {
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 5, windowSeconds: 60 }] })
    expect(await statuses(limiter, 6)).toEqual([200, 200, 200, 200, 200, 429])
  })

  it('allows a burst of exactly the limit sent at once', async () => {
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 50, windowSeconds: 60 }] })
    const decisions = await Promise.all(
      Array.from({ length: 51 }, () => limiter.authorize(request(), auth())),
    )
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50)
  })

  it('answers 429 rate_limited with Retry-After and the IETF RateLimit fields', async () => {
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 2, windowSeconds: 60 }] })
    await statuses(limiter, 2)
    vi.advanceTimersByTime(15_500)
    const decision = await limiter.authorize(request(), auth())
    expect(decision.allowed).toBe(false)
    if (decision.allowed) return
    expect(decision.policies).toEqual(['default'])
    expect(decision.error).toMatchObject({ code: 'rate_limited', status: 429, reason: 'budget_exhausted' })
    const rendered = renderError(decision.error)
    expect(rendered.status).toBe(429)
    expect(rendered.headers).toMatchObject({
      'content-type': 'application/problem+json',
      'retry-after': '45',
      'ratelimit-policy': '"default";q=2;w=60',
      ratelimit: '"default";r=0;t=45',
    })
    expect(JSON.parse(rendered.body)).toMatchObject({
      status: 429,
      code: 'rate_limited',
      reason: 'budget_exhausted',
    })
  })

  it('refuses up to the last millisecond of the window and allows a full budget at its end', async () => {
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 3, windowSeconds: 10 }] })
    expect(await statuses(limiter, 4)).toEqual([200, 200, 200, 429])
    vi.advanceTimersByTime(9_999)
    const last = await limiter.authorize(request(), auth())
    expect(last.allowed).toBe(false)
    if (!last.allowed) expect(last.error.retryAfter).toBe(1)
    vi.advanceTimersByTime(1)
    expect(await statuses(limiter, 4)).toEqual([200, 200, 200, 429])
  })

  it('counts a fixed window from the first request: a burst at its end and one at the next start both pass', async () => {
    // The fixed window's known edge (README): up to twice the limit across a window boundary.
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 3, windowSeconds: 10 }] })
    expect(await statuses(limiter, 1)).toEqual([200])
    vi.advanceTimersByTime(9_900)
    expect(await statuses(limiter, 3)).toEqual([200, 200, 429])
    vi.advanceTimersByTime(100)
    expect(await statuses(limiter, 4)).toEqual([200, 200, 200, 429])
  })

  it('keeps a budget per identity: subject within issuer, then client, then workload', async () => {
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 1, windowSeconds: 60 }] })
    expect(await statuses(limiter, 2, request(), auth())).toEqual([200, 429])
    // The same subject from another issuer is another identity.
    expect(await statuses(limiter, 1, request(), auth({ issuer: 'https://other.example.com/' }))).toEqual([
      200,
    ])
    expect(await statuses(limiter, 1, request(), auth({ subject: 'bob' }))).toEqual([200])
    // No subject: the client; a client named like a subject does not share its budget.
    expect(await statuses(limiter, 2, request(), auth({ subject: undefined, clientId: 'alice' }))).toEqual([
      200, 429,
    ])
    const workload = {
      id: 'spiffe://prod.example.com/ns/shop/sa/checkout',
      trustDomain: 'prod.example.com',
      path: '/ns/shop/sa/checkout',
      proof: 'mtls' as const,
    }
    expect(await statuses(limiter, 2, request(), { ...anonymous, workload })).toEqual([200, 429])
  })

  it('keys anonymous requests by the configured fallback, never by a header', async () => {
    const shared = rateLimit({ budgets: [{ name: 'default', limit: 1, windowSeconds: 60 }] })
    const forged = request({ headerValues: (name) => (name === 'x-forwarded-for' ? ['203.0.113.9'] : []) })
    expect(await statuses(shared, 1, request({ remoteAddress: '192.0.2.1' }), anonymous)).toEqual([200])
    expect(await statuses(shared, 1, { ...forged, remoteAddress: '192.0.2.2' }, anonymous)).toEqual([429])

    const perPeer = rateLimit({
      budgets: [{ name: 'default', limit: 1, windowSeconds: 60 }],
      anonymous: 'peer',
    })
    expect(await statuses(perPeer, 2, request({ remoteAddress: '192.0.2.1' }), anonymous)).toEqual([200, 429])
    expect(await statuses(perPeer, 1, { ...forged, remoteAddress: '192.0.2.1' }, anonymous)).toEqual([429])
    expect(await statuses(perPeer, 1, request({ remoteAddress: '192.0.2.2' }), anonymous)).toEqual([200])
    // One IPv6 /64 is one peer.
    expect(await statuses(perPeer, 1, request({ remoteAddress: '2001:db8:1:2::1' }), anonymous)).toEqual([
      200,
    ])
    expect(await statuses(perPeer, 1, request({ remoteAddress: '2001:db8:1:2:ffff::9' }), anonymous)).toEqual(
      [429],
    )
  })

  it('keys by a key function, anonymous when it returns nothing', async () => {
    const limiter = rateLimit({
      budgets: [{ name: 'tenant', limit: 1, windowSeconds: 60 }],
      key: (_req, who) => (typeof who.claims.tenant === 'string' ? who.claims.tenant : undefined),
    })
    expect(await statuses(limiter, 1, request(), auth({ claims: { tenant: 'acme' } }))).toEqual([200])
    expect(
      await statuses(limiter, 1, request(), auth({ subject: 'bob', claims: { tenant: 'acme' } })),
    ).toEqual([429])
    expect(await statuses(limiter, 1, request(), auth())).toEqual([200])
    expect(await statuses(limiter, 1, request(), auth({ subject: 'carol' }))).toEqual([429])
  })

  it('picks the first budget that applies: by method and route, by scope, then the default', async () => {
    const limiter = rateLimit({
      budgets: [
        { name: 'writes', route: 'POST /orders', limit: 1, windowSeconds: 60 },
        { name: 'one-order', route: '/orders/:id', limit: 2, windowSeconds: 60 },
        { name: 'gold', scope: 'plan:gold', limit: 5, windowSeconds: 60 },
        { name: 'default', limit: 3, windowSeconds: 60 },
      ],
    })
    const post = request({ method: 'POST' })
    expect(await statuses(limiter, 2, post)).toEqual([200, 429])
    const routed = request({ path: '/orders/7', route: '/orders/:id' })
    expect(await statuses(limiter, 3, routed)).toEqual([200, 200, 429])
    expect(await statuses(limiter, 6, request(), auth({ scopes: ['plan:gold'] }))).toEqual([
      200, 200, 200, 200, 200, 429,
    ])
    expect(await statuses(limiter, 4)).toEqual([200, 200, 200, 429])
    const decision = await limiter.authorize(post, auth({ subject: 'bob' }))
    expect(decision).toEqual({
      allowed: true,
      policies: ['writes'],
      responseHeaders: { 'RateLimit-Policy': '"writes";q=1;w=60', RateLimit: '"writes";r=0;t=60' },
    })
  })

  it('sends the RateLimit fields on allowed requests too: what remains, and when the window resets (issue 18)', async () => {
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 3, windowSeconds: 60 }] })
    const fields = async () => {
      const decision = await limiter.authorize(request(), auth())
      return decision.allowed ? decision.responseHeaders : renderError(decision.error).headers
    }
    expect(await fields()).toEqual({
      'RateLimit-Policy': '"default";q=3;w=60',
      RateLimit: '"default";r=2;t=60',
    })
    vi.advanceTimersByTime(15_500)
    expect(await fields()).toEqual({
      'RateLimit-Policy': '"default";q=3;w=60',
      RateLimit: '"default";r=1;t=45',
    })
    vi.advanceTimersByTime(44_000)
    expect(await fields()).toEqual({
      'RateLimit-Policy': '"default";q=3;w=60',
      RateLimit: '"default";r=0;t=1',
    })
    expect(await fields()).toMatchObject({
      'ratelimit-policy': '"default";q=3;w=60',
      ratelimit: '"default";r=0;t=1',
    })
    vi.advanceTimersByTime(500)
    expect(await fields()).toEqual({
      'RateLimit-Policy': '"default";q=3;w=60',
      RateLimit: '"default";r=2;t=60',
    })
  })

  it("sends them only on 429s with headers 'denied'", async () => {
    const limiter = rateLimit({
      budgets: [{ name: 'default', limit: 1, windowSeconds: 60 }],
      headers: 'denied',
    })
    expect(await limiter.authorize(request(), auth())).toEqual({ allowed: true, policies: ['default'] })
    const refused = await limiter.authorize(request(), auth())
    expect(refused.allowed).toBe(false)
    if (refused.allowed) return
    expect(renderError(refused.error).headers).toMatchObject({
      'ratelimit-policy': '"default";q=1;w=60',
      ratelimit: '"default";r=0;t=60',
    })
  })

  it('sends no RateLimit fields where no budget applies', async () => {
    const limiter = rateLimit({
      budgets: [{ name: 'writes', route: 'POST /orders', limit: 1, windowSeconds: 60 }],
    })
    expect(await limiter.authorize(request(), auth())).toEqual({ allowed: true })
  })

  it('does not limit a request no budget applies to', async () => {
    const limiter = rateLimit({
      budgets: [{ name: 'writes', route: 'POST /orders', limit: 1, windowSeconds: 1 }],
    })
    expect(await statuses(limiter, 3)).toEqual([200, 200, 200])
  })

  it('holds 10,000 distinct identities within 2 KiB each (README: memory), and forgets them when their window ends', async () => {
    // Real timers: the store holds one timer per key, which fake timers would make slow and heavy.
    vi.useRealTimers()
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 2, windowSeconds: 1 }] })
    const subjects = Array.from({ length: 10_000 }, (_, i) =>
      auth({ subject: `user-${i}-${'x'.repeat(40)}` }),
    )
    await limiter.authorize(request(), subjects[0] as Auth)
    gc()
    const before = process.memoryUsage().heapUsed
    for (const who of subjects) {
      const decision = await limiter.authorize(request(), who)
      expect(decision.allowed).toBe(true)
    }
    gc()
    const grown = process.memoryUsage().heapUsed - before
    expect(grown).toBeLessThan(10_000 * 2048)
    // Each identity kept its own count.
    expect(await statuses(limiter, 1, request(), subjects[9_999])).toEqual([200])
    expect(await statuses(limiter, 1, request(), subjects[9_999])).toEqual([429])
    await new Promise((resolve) => setTimeout(resolve, 1_200))
    gc()
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(grown / 2)
    expect(await statuses(limiter, 2, request(), subjects[9_999])).toEqual([200, 200])
  })

  it('bounds a long identity: a 10,000-character subject is held as its hash', async () => {
    const limiter = rateLimit({ budgets: [{ name: 'default', limit: 1, windowSeconds: 60 }] })
    const long = 'a'.repeat(10_000)
    expect(await statuses(limiter, 2, request(), auth({ subject: long }))).toEqual([200, 429])
    expect(await statuses(limiter, 1, request(), auth({ subject: `${long}b` }))).toEqual([200])
  })
})

describe('rateLimit options', () => {
  it.each([
    [{}, '"budgets" option'],
    [{ budgets: [] }, '"budgets" option must not be empty'],
    [{ budgets: [{ name: 'a b', limit: 1, windowSeconds: 1 }] }, '"budgets.0.name" option'],
    [
      { budgets: [{ name: 'a', limit: 0, windowSeconds: 1 }] },
      '"budgets.0.limit" option must be a positive integer',
    ],
    [{ budgets: [{ name: 'a', limit: 1, windowSeconds: 0.5 }] }, '"budgets.0.windowSeconds" option'],
    [{ budgets: [{ name: 'a', limit: 1, windowSeconds: 1, route: 'orders' }] }, '"budgets.0.route" option'],
    [
      {
        budgets: [
          { name: 'a', limit: 1, windowSeconds: 1 },
          { name: 'a', limit: 2, windowSeconds: 1 },
        ],
      },
      '"budgets" option must name each budget once',
    ],
    [{ budgets: [{ name: 'a', limit: 1, windowSeconds: 1 }], anonymous: 'header' }, '"anonymous" option'],
    [
      { budgets: [{ name: 'a', limit: 1, windowSeconds: 1 }], redis: {} },
      '"redis" option must be an ioredis client',
    ],
    [
      { budgets: [{ name: 'a', limit: 1, windowSeconds: 1 }], onStoreFailure: 'open' },
      '"onStoreFailure" option',
    ],
    [
      { budgets: [{ name: 'a', limit: 1, windowSeconds: 1 }], headers: 'none' },
      '"headers" option must be "all" or "denied"',
    ],
    [{ budgets: [{ name: 'a', limit: 1, windowSeconds: 1 }], burst: 3 }, '"burst" option is not recognized'],
  ])('refuses %j at construction', (options, message) => {
    expect(() => rateLimit(options as never)).toThrow(TypeError)
    expect(() => rateLimit(options as never)).toThrow(`rateLimit: ${message}`)
  })
})

describe('rateLimit when the store fails', () => {
  // An ioredis-shaped client whose every command fails, as a disconnected one does.
  const broken = {
    status: 'end',
    defineCommand() {},
  }

  it('answers 503 dependency_unavailable by default', async () => {
    const limiter = rateLimit({
      budgets: [{ name: 'default', limit: 1, windowSeconds: 60 }],
      redis: broken as never,
    })
    const decision = await limiter.authorize(request(), auth())
    expect(decision.allowed).toBe(false)
    if (decision.allowed) return
    expect(decision.error).toBeInstanceOf(ZeroTrustError)
    expect(decision.error).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'rate_limit_store_unavailable',
    })
    expect(renderError(decision.error).headers['retry-after']).toBe('5')
  })

  it('lets the request through with onStoreFailure "allow", and says so in the decision', async () => {
    const limiter = rateLimit({
      budgets: [{ name: 'default', limit: 1, windowSeconds: 60 }],
      redis: broken as never,
      onStoreFailure: 'allow',
    })
    expect(await limiter.authorize(request(), auth())).toEqual({
      allowed: true,
      policies: ['default'],
      diagnostics: ['rate_limit_store_unavailable'],
    })
  })
})
