import type { Auth } from '@zerotrust/core'
import { isZeroTrustError, ZeroTrustError } from '@zerotrust/core'
import { startHttpServer, type TestHttpServer } from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AccessToken } from './lib/token-cache.js'
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
