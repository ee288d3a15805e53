// rateLimit and failureLimit on a Redis whose commands hang (issue 18): a private redis-server (never the
// shared one on 6379) held with CLIENT PAUSE, so the layers' client stays connected and ready while no
// command is answered. Each layer must give its configured store-down answer once `operationTimeout`
// has passed, long before the pause ends, and the answers Redis sends late (or the errors when it dies)
// must never surface as unhandled rejections.
import type { DecisionEvent } from '@zerotrust/core'
import { authenticate, authorize, errorHandler } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { failureLimit, rateLimit } from '@zerotrust/ratelimit'
import { startHttpServer, type TestHttpServer, testIssuer } from '@zerotrust/testkit'
import { type PrivateRedis, redisHost, redisServerBinary, startPrivateRedis } from '@zerotrust/testkit/redis'
import express from 'express'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const binary = redisServerBinary()
const skip = binary === undefined && process.env.CI !== 'true'
if (skip) console.warn('redis-server is not installed: skipping the tests of a Redis that hangs')

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'
const operationTimeout = 200
// Far longer than any answer may take: an answer that waited for Redis would come after it.
const pauseMs = 30_000

/** Polls `condition` every 20 ms, at most `tries` times. */
async function waitFor(condition: () => boolean, what: string, tries = 250): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (condition()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting until ${what}`)
}

describe.skipIf(skip)('rateLimit and failureLimit when Redis hangs past operationTimeout (issue 18)', () => {
  const events: DecisionEvent[] = []
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  let server: PrivateRedis
  // The application's client, as the README recommends it: no offline queue, one retry.
  let client: Redis
  let admin: Redis
  let http: TestHttpServer
  let sign: (claims?: Record<string, unknown>) => Promise<string>

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled)
    server = await startPrivateRedis(binary as string)
    const options = { host: redisHost, port: server.port, maxRetriesPerRequest: 1, enableOfflineQueue: false }
    client = new Redis(options)
    admin = new Redis(options)
    // Connection errors are expected once the server is killed.
    for (const redis of [client, admin]) redis.on('error', () => {})
    await waitFor(() => client.status === 'ready' && admin.status === 'ready', 'both clients are ready')

    const idp = await testIssuer({ issuer, audience })
    sign = idp.sign
    const tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })
    const budgets = [{ name: 'orders', limit: 100, windowSeconds: 60 }]
    const app = express()
    app.use(
      authenticate(failureLimit(tokens, { failures: 2, redis: client, operationTimeout }), {
        publicOrigin: 'https://api.example.com',
        onDecision: (event) => events.push(event),
      }),
    )
    app.get('/closed', authorize(rateLimit({ budgets, redis: client, operationTimeout })), (_req, res) => {
      res.json({ ok: true })
    })
    app.get(
      '/open',
      authorize(rateLimit({ budgets, redis: client, operationTimeout, onStoreFailure: 'allow' })),
      (_req, res) => {
        res.json({ ok: true })
      },
    )
    app.use(errorHandler())
    http = await startHttpServer(app)
  }, 30_000)

  afterAll(async () => {
    await http?.close()
    client?.disconnect()
    admin?.disconnect()
    await server?.kill()
    process.off('unhandledRejection', onUnhandled)
  })

  const get = async (path: string, token: string) => {
    const started = performance.now()
    const response = await fetch(`${http.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
    const body = await response.text()
    return { response, body, ms: performance.now() - started }
  }

  it('answers from Redis while it answers', async () => {
    const token = await sign({ sub: 'alice' })
    const { response } = await get('/closed', token)
    expect(response.status).toBe(200)
    expect(response.headers.get('ratelimit')).toMatch(/^"orders";r=99;t=\d+$/)
  })

  it('fails closed with 503 and Retry-After once operationTimeout has passed, while Redis still hangs', async () => {
    const token = await sign({ sub: 'alice' })
    expect(await admin.client('PAUSE', pauseMs, 'ALL')).toBe('OK')
    events.length = 0
    const { response, body, ms } = await get('/closed', token)
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
    expect(response.headers.get('ratelimit')).toBeNull()
    expect(JSON.parse(body)).toMatchObject({
      code: 'dependency_unavailable',
      reason: 'rate_limit_store_unavailable',
    })
    // It waited for the store (no fast failure of a client that is not ready), and not for the pause.
    expect(ms).toBeGreaterThanOrEqual(operationTimeout - 20)
    expect(ms).toBeLessThan(pauseMs)
    expect(events.map((e) => [e.layer, e.outcome, e.code, e.reason])).toEqual([
      ['jwt', 'allow', 'ok', undefined],
      ['ratelimit', 'error', 'dependency_unavailable', 'rate_limit_store_unavailable'],
    ])
    // The client is connected all along: this is a hang, not an outage.
    expect(client.status).toBe('ready')
  })

  it("lets the request through with onStoreFailure 'allow', reported in the allow event", async () => {
    const token = await sign({ sub: 'alice' })
    events.length = 0
    const { response, ms } = await get('/open', token)
    expect(response.status).toBe(200)
    expect(response.headers.get('ratelimit')).toBeNull()
    expect(ms).toBeLessThan(pauseMs)
    expect(events[1]).toMatchObject({
      layer: 'ratelimit',
      outcome: 'allow',
      code: 'ok',
      policies: ['orders'],
      diagnostics: ['rate_limit_store_unavailable'],
    })
  })

  it('failureLimit counts the refusals in this process instead, and still refuses the peer', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      const { response, ms } = await get('/closed', 'e30.e30.e30')
      expect(ms).toBeLessThan(pauseMs)
      statuses.push(response.status)
    }
    expect(statuses).toEqual([401, 401, 429])
  })

  it('leaves no unhandled rejection when the late commands fail as Redis dies', async () => {
    await server.kill()
    await waitFor(() => client.status !== 'ready', 'the client sees the server gone')
    client.disconnect()
    // Let every pending command's rejection run its handlers.
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(unhandled).toEqual([])
  })
})
