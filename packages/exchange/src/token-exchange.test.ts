import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Auth, isZeroTrustError, type ZeroTrustError, ZeroTrustError as ZtError } from '@zerotrust/core'
import { claimsToAuth, recordPresentedToken } from '@zerotrust/core/layer'
import { startHttpServer, type TestHttpServer } from '@zerotrust/testkit'
import { ClientSecretBasic } from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tokenExchange } from './token-exchange.js'

// A token endpoint that holds every request open until told otherwise, counting what arrives and what
// the client gave up on: what an abort does to the request to the authorization server.
let endpoint: TestHttpServer
const held: { res: ServerResponse; closed: boolean }[] = []
let received = 0

beforeAll(async () => {
  endpoint = await startHttpServer((req: IncomingMessage, res: ServerResponse) => {
    received += 1
    const entry = { res, closed: false }
    held.push(entry)
    req.resume()
    res.on('close', () => {
      entry.closed = true
    })
  })
})

afterAll(async () => {
  for (const { res } of held) res.destroy()
  await endpoint?.close()
})

const userToken = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS11c2Vy'

function authOf(claims: Record<string, unknown>, scheme: Auth['scheme'] = 'Bearer', record = true): Auth {
  const auth = claimsToAuth(
    {
      sub: 'alice',
      iss: 'https://idp.example.com/',
      scope: 'orders:read orders:write',
      exp: Math.floor(Date.now() / 1000) + 300,
      ...claims,
    },
    { scheme, format: 'jwt', invalidClaim: (claim) => new ZtError('invalid_token', `bad "${claim}"`) },
  )
  if (record) recordPresentedToken(auth, userToken)
  return auth
}

function edge() {
  return tokenExchange({
    issuer: endpoint.url,
    clientId: 'edge',
    auth: ClientSecretBasic('edge-secret'),
    tokenEndpoint: `${endpoint.url}/token`,
    timeout: 10_000,
  })
}

async function refusal(promise: Promise<unknown>): Promise<ZeroTrustError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isZeroTrustError(error)) throw new Error(`expected a ZeroTrustError, got ${String(error)}`)
  return error
}

const summary = (e: ZeroTrustError) => ({ code: e.code, status: e.status, reason: e.reason })

/** Waits, within a bound, until the endpoint has received `count` requests in all. */
async function receivedAtLeast(count: number): Promise<void> {
  for (let i = 0; i < 500 && received < count; i++) await new Promise((r) => setTimeout(r, 10))
  expect(received).toBeGreaterThanOrEqual(count)
}

async function closedWithin(entry: { closed: boolean }): Promise<boolean> {
  for (let i = 0; i < 500 && !entry.closed; i++) await new Promise((r) => setTimeout(r, 10))
  return entry.closed
}

describe("tokenExchange's mint: what is refused before the authorization server is asked (issue 17)", () => {
  it('refuses a missing Auth: no authenticate ran, the calling code is at fault (500)', async () => {
    expect(summary(await refusal(edge().mint(undefined, { audience: 'api://orders' })))).toEqual({
      code: 'internal_error',
      status: 500,
      reason: 'no_subject',
    })
  })

  it('refuses a DPoP request and a DPoP- or certificate-bound token: never presented without its proof', async () => {
    const exchange = edge()
    const bound = [
      authOf({}, 'DPoP'),
      authOf({ cnf: { jkt: 'bq5iW9Mrm2g2lAVEwANPWv6wNGcRFLvS6gpqpz3Nr5U' } }),
      authOf({ cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }),
      authOf({ token_type: 'DPoP' }),
    ]
    for (const auth of bound) {
      expect(summary(await refusal(exchange.mint(auth, { audience: 'api://orders' })))).toEqual({
        code: 'access_denied',
        status: 403,
        reason: 'subject_token_bound',
      })
    }
    expect(received).toBe(0)
  })

  it('refuses an Auth whose authenticator recorded no token (500 subject_token_unavailable)', async () => {
    const unrecorded = authOf({}, 'Bearer', false)
    expect(summary(await refusal(edge().mint(unrecorded, { audience: 'api://orders' })))).toEqual({
      code: 'internal_error',
      status: 500,
      reason: 'subject_token_unavailable',
    })
    // A copy of a recorded Auth is another object, with no token: nothing leaks through a spread.
    const copied = { ...authOf({}) }
    expect((await refusal(edge().mint(copied, { audience: 'api://orders' }))).reason).toBe(
      'subject_token_unavailable',
    )
  })

  it("refuses a scope the user's token lacks, an expired user, and no audience, without a request", async () => {
    const exchange = edge()
    const scope = await refusal(exchange.mint(authOf({}), { audience: 'api://orders', scope: 'admin' }))
    expect({ ...summary(scope), scope: scope.scope }).toEqual({
      code: 'insufficient_scope',
      status: 403,
      reason: 'scope_not_granted',
      scope: ['admin'],
    })
    const expired = authOf({ exp: Math.floor(Date.now() / 1000) - 1 })
    expect(summary(await refusal(exchange.mint(expired, { audience: 'api://orders' })))).toEqual({
      code: 'invalid_token',
      status: 401,
      reason: 'subject_expired',
    })
    expect(summary(await refusal(exchange.mint(authOf({}), { audience: '' })))).toEqual({
      code: 'internal_error',
      status: 500,
      reason: 'audience_not_allowed',
    })
    expect(received).toBe(0)
  })
})

describe("tokenExchange's signal (issue 17)", () => {
  it('refuses at once with the reason of an already aborted signal, asking nothing', async () => {
    const reason = new Error('the caller left')
    const signal = AbortSignal.abort(reason)
    const exchange = edge()
    await expect(exchange.mint(authOf({}), { audience: 'api://orders', signal })).rejects.toBe(reason)
    await expect(exchange.exchange(userToken, { audience: 'api://orders', signal })).rejects.toBe(reason)
    expect(received).toBe(0)
  })

  it('aborts the request to the issuer once every caller waiting for it has left', async () => {
    const exchange = edge()
    const before = received
    const first = new AbortController()
    const second = new AbortController()
    const auth = authOf({})
    const one = exchange.mint(auth, { audience: 'api://orders', signal: first.signal })
    const two = exchange.mint(auth, { audience: 'api://orders', signal: second.signal })
    one.catch(() => {})
    two.catch(() => {})
    await receivedAtLeast(before + 1)
    const entry = held.at(-1) as { closed: boolean }
    // One caller leaves: the shared request goes on for the other.
    first.abort(new Error('first left'))
    await expect(one).rejects.toThrow('first left')
    await new Promise((r) => setTimeout(r, 50))
    expect(entry.closed).toBe(false)
    // The last one leaves: the connection to the issuer is dropped.
    second.abort(new Error('second left'))
    await expect(two).rejects.toThrow('second left')
    expect(await closedWithin(entry)).toBe(true)
    // Both concurrent callers shared one request.
    expect(received).toBe(before + 1)
  })

  it('keeps a caller without a signal waiting when one with a signal leaves', async () => {
    const exchange = edge()
    const before = received
    const leaving = new AbortController()
    const staying = exchange.exchange(userToken, { audience: 'api://billing' })
    staying.catch(() => {})
    const left = exchange.exchange(userToken, { audience: 'api://billing', signal: leaving.signal })
    await receivedAtLeast(before + 1)
    const entry = held.at(-1) as { res: ServerResponse; closed: boolean }
    leaving.abort(new Error('gone'))
    await expect(left).rejects.toThrow('gone')
    await new Promise((r) => setTimeout(r, 50))
    expect(entry.closed).toBe(false)
    // The issuer answers at last: the staying caller gets the token.
    entry.res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        access_token: 'exchanged-token',
        token_type: 'Bearer',
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        expires_in: 60,
      }),
    )
    await expect(staying).resolves.toMatchObject({ type: 'Bearer', audience: 'api://billing' })
  })
})

describe('tokenExchange options (issue 17)', () => {
  it('names "tls" and "issuerCa" when the issuer is plain http', () => {
    const base = { issuer: endpoint.url, clientId: 'edge', auth: ClientSecretBasic('s') }
    expect(() => tokenExchange({ ...base, tls: { certificate: 'c', key: 'k' } })).toThrow(
      'tokenExchange: "tls" option needs an https "issuer" and "tokenEndpoint"',
    )
    expect(() => tokenExchange({ ...base, issuerCa: 'pem' })).toThrow('"issuerCa" option needs an https')
    expect(() =>
      tokenExchange({ ...base, issuer: 'https://idp.example.com/', tls: { certificate: '' } as never }),
    ).toThrow('tokenExchange: "tls" option must be a certificate and key')
  })
})
