// A 503 says which step failed and why: the reason names the step (discovery or JWKS) and stays the
// same during the backoff, a timeout is `*_timeout`, and the decision event's `cause` tells DNS, a
// refused connection, TLS and a timeout apart, from error codes (issue 20). Real loopback servers only.
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { DecisionEvent } from '@zerotrust/core'
import { runAuthentication } from '@zerotrust/core/adapter'
import { createTestCa, issueSvid } from '@zerotrust/testkit/ca'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bearer, claims, sign, type TestKey, testKey } from '../test/fixtures.js'
import { jwtBearer } from './index.js'

let key: TestKey
const closers: (() => Promise<void>)[] = []
beforeAll(async () => {
  key = await testKey('ES256', 'k1')
})
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

function listen(server: Server): Promise<number> {
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  closers.push(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  )
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  )
}

/** A port that was just free: nothing listens there, so a connection is refused. */
async function closedPort(): Promise<number> {
  const server = createHttpServer()
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  )
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Authenticates one token and returns the error and the one decision event. */
async function attempt(tokens: ReturnType<typeof jwtBearer>, iss = 'https://idp.example.com/') {
  const events: DecisionEvent[] = []
  const request = bearer(await sign(key, claims({ iss })))
  const error = await Promise.resolve(runAuthentication(tokens, request, (e) => events.push(e))).then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(events).toHaveLength(1)
  return { error, event: events[0] as DecisionEvent }
}

const verifier = (jwksUri: string, timeout = 5000) =>
  jwtBearer({
    issuer: 'https://idp.example.com/',
    audience: 'api://orders',
    algorithms: ['ES256'],
    jwksUri,
    http: { timeout },
  })

describe('the cause of a 503 from the JWKS fetch (issue 20)', () => {
  it('a host that does not resolve: jwks_unavailable, cause dns', async () => {
    const { error, event } = await attempt(verifier('https://idp.invalid/jwks'))
    expect(error).toMatchObject({ code: 'dependency_unavailable', status: 503, reason: 'jwks_unavailable' })
    expect(event).toMatchObject({
      outcome: 'error',
      code: 'dependency_unavailable',
      reason: 'jwks_unavailable',
      cause: 'dns',
    })
  })

  it('a closed port: jwks_unavailable, cause refused', async () => {
    const { event } = await attempt(verifier(`http://127.0.0.1:${await closedPort()}/jwks`))
    expect(event).toMatchObject({ status: 503, reason: 'jwks_unavailable', cause: 'refused' })
  })

  it('a TLS server whose certificate no trusted CA signed: jwks_unavailable, cause tls', async () => {
    const ca = await createTestCa({ trustDomain: 'idp.test' })
    const leaf = await issueSvid(ca, { ips: ['127.0.0.1'], dns: ['localhost'], usages: ['serverAuth'] })
    const port = await listen(
      createHttpsServer({ key: leaf.key, cert: leaf.chain }, (_req, res) => {
        res.end(JSON.stringify({ keys: [key.publicJwk] }))
      }),
    )
    const { event } = await attempt(verifier(`https://127.0.0.1:${port}/jwks`))
    expect(event).toMatchObject({ status: 503, reason: 'jwks_unavailable', cause: 'tls' })
  })

  it('a server that never answers: jwks_timeout, cause timeout', async () => {
    const port = await listen(createHttpServer(() => {}))
    const { error, event } = await attempt(verifier(`http://127.0.0.1:${port}/jwks`, 200))
    expect(error).toMatchObject({ code: 'dependency_unavailable', reason: 'jwks_timeout' })
    expect(event).toMatchObject({ status: 503, reason: 'jwks_timeout', cause: 'timeout' })
  })

  it('an answer of 500: jwks_unavailable, cause http_status; a body that is no JSON: cause bad_json', async () => {
    const port = await listen(
      createHttpServer((req, res) => {
        if (req.url === '/500') res.writeHead(500).end('{}')
        else res.writeHead(200, { 'content-type': 'application/json' }).end('<html>')
      }),
    )
    expect((await attempt(verifier(`http://127.0.0.1:${port}/500`))).event).toMatchObject({
      reason: 'jwks_unavailable',
      cause: 'http_status',
    })
    expect((await attempt(verifier(`http://127.0.0.1:${port}/html`))).event).toMatchObject({
      reason: 'jwks_unavailable',
      cause: 'bad_json',
    })
  })
})

describe('the reason of a 503 during the backoff is the failed step, not another (issue 20)', () => {
  it('discovery that timed out answers discovery_timeout again while the backoff runs, with its cause', async () => {
    const port = await listen(createHttpServer(() => {}))
    const issuer = `http://127.0.0.1:${port}/`
    const tokens = jwtBearer({
      issuer,
      audience: 'api://orders',
      algorithms: ['ES256'],
      http: { timeout: 200 },
    })
    const first = await attempt(tokens, issuer)
    expect(first.event).toMatchObject({ reason: 'discovery_timeout', cause: 'timeout' })
    // Within the second of backoff no fetch runs: the answer repeats the failed step's reason and cause.
    const second = await attempt(tokens, issuer)
    expect(second.error).toMatchObject({ code: 'dependency_unavailable', reason: 'discovery_timeout' })
    expect((second.error as { retryAfter?: number }).retryAfter).toBeGreaterThanOrEqual(1)
    expect(second.event).toMatchObject({ reason: 'discovery_timeout', cause: 'timeout' })
  })

  it('discovery refused answers discovery_unavailable, cause refused, before and during the backoff', async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}/`
    const tokens = jwtBearer({ issuer, audience: 'api://orders', algorithms: ['ES256'] })
    for (let i = 0; i < 3; i++) {
      expect((await attempt(tokens, issuer)).event).toMatchObject({
        reason: 'discovery_unavailable',
        cause: 'refused',
      })
    }
  })
})
