import type { Auth } from '@zerotrust/core'
import { isZeroTrustError, ZeroTrustError } from '@zerotrust/core'
import { startHttpServer, type TestHttpServer } from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type AccessToken, accessToken } from './lib/token-cache.js'
import { isOutboundError } from './outbound-error.js'
import { type OnBehalfOfTokens, zeroTrustClient } from './zero-trust-client.js'

// The client's side of issue 17: a call made for an inbound request's user carries a token minted for
// that user (`onBehalfOf`), never the user's own token.

let server: TestHttpServer
const received: (string | undefined)[] = []

beforeAll(async () => {
  server = await startHttpServer((req, res) => {
    received.push(req.headers.authorization)
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
})

afterAll(async () => {
  await server.close()
})

const alice: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: ['api://edge'],
  clientId: 'web',
  scopes: ['orders:read'],
  claims: {},
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: undefined,
  cnf: undefined,
}

/** A minter that records what it was asked and refuses a request without an Auth, as internalTokens does. */
function minter() {
  const asked: { auth: Auth | undefined; audience: string; scope: unknown }[] = []
  const tokens: OnBehalfOfTokens = {
    mint(auth, request) {
      asked.push({ auth, audience: request.audience, scope: request.scope })
      if (auth === undefined) throw new ZeroTrustError('internal_error', 'no user', { reason: 'no_subject' })
      const token = { type: 'Bearer', expiresAt: Date.now() + 60_000 } as AccessToken
      Object.defineProperty(token, 'value', { value: `minted-for-${auth.subject}` })
      return token
    },
  }
  return { tokens, asked }
}

describe('onBehalfOf (issue 17)', () => {
  it('sends the token minted for the user of the call, with the audience and scope of the client', async () => {
    const { tokens, asked } = minter()
    const client = zeroTrustClient({
      baseUrl: server.url,
      onBehalfOf: { tokens, audience: 'api://orders', scope: 'orders:read' },
    })
    try {
      const answer = await client.fetch('/orders/1', { onBehalfOf: alice })
      expect(answer.status).toBe(200)
      expect(received.at(-1)).toBe('Bearer minted-for-alice')
      expect(asked).toEqual([{ auth: alice, audience: 'api://orders', scope: 'orders:read' }])
      // A call without onBehalfOf sends no token of the user.
      await client.fetch('/health')
      expect(received.at(-1)).toBeUndefined()
    } finally {
      await client.close()
    }
  })

  it("passes the minter's refusal on, and sends nothing", async () => {
    const { tokens } = minter()
    const client = zeroTrustClient({ baseUrl: server.url, onBehalfOf: { tokens, audience: 'api://orders' } })
    try {
      const before = received.length
      const error = await client.fetch('/orders/1', { onBehalfOf: undefined }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isZeroTrustError(error) && { code: error.code, reason: error.reason }).toEqual({
        code: 'internal_error',
        reason: 'no_subject',
      })
      expect(received.length).toBe(before)
    } finally {
      await client.close()
    }
  })

  it('names the mistakes', async () => {
    const plain = zeroTrustClient({ baseUrl: server.url })
    await expect(plain.fetch('/', { onBehalfOf: alice })).rejects.toThrow(
      'fetch: "onBehalfOf" option needs the client\'s "onBehalfOf" option',
    )
    await plain.close()
    expect(() =>
      zeroTrustClient({ baseUrl: server.url, onBehalfOf: { tokens: {} as never, audience: 'api://x' } }),
    ).toThrow('zeroTrustClient: "onBehalfOf.tokens" option must mint tokens for a user')
    const { tokens } = minter()
    const client = zeroTrustClient({ baseUrl: server.url, onBehalfOf: { tokens, audience: 'api://orders' } })
    await expect(
      client.fetch('/', { onBehalfOf: alice, headers: { authorization: 'Bearer the-users-own' } }),
    ).rejects.toThrow('fetch: "headers" option must not set "authorization"')
    await client.close()
  })
})

/** A minter that never answers, recording the signal it was handed. */
function stuckMinter() {
  const signals: (AbortSignal | undefined)[] = []
  const tokens: OnBehalfOfTokens = {
    mint(_auth, request) {
      signals.push(request.signal)
      return new Promise<AccessToken>(() => undefined)
    },
  }
  return { tokens, signals }
}

async function failure(pending: Promise<unknown>): Promise<unknown> {
  return pending.then(
    () => undefined,
    (e: unknown) => e,
  )
}

describe('onBehalfOf: the minter within the call (issue 17)', () => {
  it("ends a call whose minter never answers at the call's deadline, and aborts the minter's signal", async () => {
    const { tokens, signals } = stuckMinter()
    const client = zeroTrustClient({ baseUrl: server.url, onBehalfOf: { tokens, audience: 'api://orders' } })
    try {
      const before = received.length
      const error = await failure(client.fetch('/orders/1', { onBehalfOf: alice, deadline: 100 }))
      expect(isOutboundError(error) && [error.code, error.status, error.reason, error.attempts]).toEqual([
        'dependency_unavailable',
        503,
        'deadline',
        1,
      ])
      expect(signals).toHaveLength(1)
      expect(signals[0]?.aborted).toBe(true)
      expect(received.length).toBe(before)
    } finally {
      await client.close()
    }
  })

  it("ends it on the caller's abort, and passes the abort on to the minter", async () => {
    const { tokens, signals } = stuckMinter()
    const client = zeroTrustClient({ baseUrl: server.url, onBehalfOf: { tokens, audience: 'api://orders' } })
    try {
      const controller = new AbortController()
      const pending = failure(client.fetch('/orders/1', { onBehalfOf: alice, signal: controller.signal }))
      // Aborted once the minter holds the signal: while the call waits for it.
      await vi.waitFor(() => expect(signals).toHaveLength(1))
      controller.abort(new Error('the inbound request went away'))
      const error = await pending
      expect(isOutboundError(error) && [error.code, error.status, error.reason]).toEqual([
        'internal_error',
        500,
        'aborted',
      ])
      expect(signals[0]?.aborted).toBe(true)
      // A signal aborted before the call starts never reaches the minter.
      const early = await failure(client.fetch('/', { onBehalfOf: alice, signal: AbortSignal.abort() }))
      expect(isOutboundError(early) && early.reason).toBe('aborted')
      expect(signals).toHaveLength(1)
    } finally {
      await client.close()
    }
  })

  it("wraps a minter's plain error in mint_failed, its error as the cause, and sends nothing", async () => {
    const bug = new Error('the key store is not configured')
    const throwing: OnBehalfOfTokens = {
      mint() {
        throw bug
      },
    }
    const rejecting: OnBehalfOfTokens = { mint: () => Promise.reject(bug) }
    const malformed: OnBehalfOfTokens = {
      mint: () => ({ type: 'Bearer', value: 'two\r\nlines', expiresAt: Date.now() + 60_000 }),
    }
    const before = received.length
    for (const tokens of [throwing, rejecting, malformed]) {
      const client = zeroTrustClient({
        baseUrl: server.url,
        onBehalfOf: { tokens, audience: 'api://orders' },
      })
      try {
        const error = await failure(client.fetch('/orders/1', { onBehalfOf: alice }))
        expect(isOutboundError(error) && [error.code, error.status, error.reason]).toEqual([
          'internal_error',
          500,
          'mint_failed',
        ])
        if (tokens !== malformed) expect((error as Error).cause).toBe(bug)
        expect((error as Error).message).not.toContain('key store')
      } finally {
        await client.close()
      }
    }
    expect(received.length).toBe(before)
  })

  it("passes a minter's refusal on as it is, also from an async minter", async () => {
    const refusal = new ZeroTrustError('insufficient_scope', 'scope not granted', {
      reason: 'scope_not_granted',
      scope: ['orders:write'],
    })
    const tokens: OnBehalfOfTokens = { mint: async () => Promise.reject(refusal) }
    const client = zeroTrustClient({
      baseUrl: server.url,
      onBehalfOf: { tokens, audience: 'api://orders', scope: 'orders:write' },
    })
    try {
      expect(await failure(client.fetch('/orders/1', { onBehalfOf: alice }))).toBe(refusal)
    } finally {
      await client.close()
    }
  })

  it('hands the minter the audience, the scope and a live signal, and sends what it minted', async () => {
    const asked: unknown[] = []
    const token = accessToken('minted.async.token', 'Bearer', Date.now() + 60_000)
    const tokens: OnBehalfOfTokens = {
      async mint(_auth, request) {
        asked.push({ ...request, signal: request.signal?.aborted })
        return token
      },
    }
    const client = zeroTrustClient({
      baseUrl: server.url,
      onBehalfOf: { tokens, audience: 'api://orders', scope: ['orders:read'] },
    })
    try {
      expect((await client.fetch('/orders/1', { onBehalfOf: alice })).status).toBe(200)
      expect(received.at(-1)).toBe('Bearer minted.async.token')
      expect(asked).toEqual([{ audience: 'api://orders', scope: ['orders:read'], signal: false }])
    } finally {
      await client.close()
    }
  })
})

describe('an attempt that ends before its request is sent is reported (issue 16)', () => {
  it('reports a refusal of the minter as a deny with its reason, a plain failure and a deadline as errors', async () => {
    const refusal = new ZeroTrustError('insufficient_scope', 'scope not granted', {
      reason: 'scope_not_granted',
    })
    const cases: [OnBehalfOfTokens, { deadline?: number }, Record<string, unknown>][] = [
      [
        { mint: () => Promise.reject(refusal) },
        {},
        { outcome: 'deny', code: 'insufficient_scope', diagnostics: ['minter_refused:scope_not_granted'] },
      ],
      [
        {
          mint() {
            throw new Error('the key store is not configured')
          },
        },
        {},
        { outcome: 'error', code: 'internal_error', reason: 'mint_failed' },
      ],
      [
        stuckMinter().tokens,
        { deadline: 50 },
        { outcome: 'error', code: 'dependency_unavailable', reason: 'deadline' },
      ],
    ]
    const before = received.length
    for (const [tokens, init, expected] of cases) {
      const events: Record<string, unknown>[] = []
      const client = zeroTrustClient({
        baseUrl: server.url,
        onBehalfOf: { tokens, audience: 'api://orders' },
        onEvent: (event) => events.push({ ...event }),
      })
      try {
        await failure(client.fetch('/orders/1', { onBehalfOf: alice, ...init }))
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({
          layer: 'client',
          ...expected,
          method: 'GET',
          origin: new URL(server.url).origin,
          path: '/orders/1',
          attempt: 1,
        })
        expect(events[0]).not.toHaveProperty('status')
        expect(typeof events[0]?.durationMs).toBe('number')
        if (expected.reason === undefined) expect(events[0]).not.toHaveProperty('reason')
      } finally {
        await client.close()
      }
    }
    expect(received.length).toBe(before)
  })

  it('reports a call aborted before it starts, and one aborted during the wait before a retry', async () => {
    const events: Record<string, unknown>[] = []
    let answered = 0
    const busy = await startHttpServer((_req, res) => {
      answered++
      res.writeHead(503, { 'retry-after': '5' }).end()
    })
    const client = zeroTrustClient({
      baseUrl: busy.url,
      retry: { attempts: 3, maxRetryAfter: 10_000 },
      onEvent: (event) => events.push({ ...event }),
    })
    try {
      await failure(client.fetch('/', { signal: AbortSignal.abort() }))
      expect(events).toEqual([expect.objectContaining({ outcome: 'error', reason: 'aborted', attempt: 1 })])
      events.length = 0
      const controller = new AbortController()
      const pending = failure(client.fetch('/orders', { signal: controller.signal }))
      // The first attempt is answered 503 with Retry-After: 5; the call waits, and is aborted meanwhile.
      await vi.waitFor(() => expect(events).toHaveLength(1))
      controller.abort()
      expect(isOutboundError(await pending) && 'aborted').toBe('aborted')
      expect(events.map((e) => [e.attempt, e.outcome, e.status, e.reason])).toEqual([
        [1, 'error', 503, 'upstream_unavailable'],
        [2, 'error', undefined, 'aborted'],
      ])
      expect(answered).toBe(1)
    } finally {
      await client.close()
      await busy.close()
    }
  })
})
