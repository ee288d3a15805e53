// A keyed write retried by the client against a zerotrust service with @zerotrust/idempotency on Redis:
// across a restart of the service the handler runs once, and a retry that finds the first attempt still
// in flight (409) waits it out. Real Redis on 127.0.0.1:6379: in CI these run; elsewhere they skip when
// Redis is not reachable.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { authenticate, idempotent } from '@zerotrust/express'
import { idempotency } from '@zerotrust/idempotency'
import { jwtBearer } from '@zerotrust/jwt'
import { redisIdempotencyStore } from '@zerotrust/redis'
import { testIssuer } from '@zerotrust/testkit'
import { connect, deleteKeys, skipWithoutRedis, uniquePrefix } from '@zerotrust/testkit/redis'
import express from 'express'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AccessToken, type ClientEvent, type TokenSource, zeroTrustClient } from '../src/index.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://billing'
const skip = await skipWithoutRedis()

describe.skipIf(skip)(
  'keyed writes against @zerotrust/idempotency on Redis (issue 16)',
  { timeout: 30_000 },
  () => {
    const prefix = uniquePrefix('client-idempotency')
    let redis: Redis
    let tokens: TokenSource
    let jwks: Awaited<ReturnType<typeof testIssuer>>['jwks']

    beforeAll(async () => {
      redis = connect()
      const idp = await testIssuer({ issuer, audience })
      jwks = idp.jwks
      const value = await idp.sign({ client_id: 'checkout', sub: 'checkout' })
      const token = { type: 'Bearer', expiresAt: Date.now() + 3_600_000 } as AccessToken
      Object.defineProperty(token, 'value', { value, enumerable: false })
      tokens = { token: async () => token, invalidate: () => {} }
    })
    afterAll(async () => {
      await deleteKeys(redis, prefix)
      redis.disconnect()
    })

    /** One replica of the billing service; `crash` cuts the connection once its answer is stored. */
    function billing(runs: { count: number }, options: { crash?: boolean; delay?: number } = {}) {
      const app = express()
      app.use(
        authenticate(jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks }), {
          publicOrigin: 'http://127.0.0.1',
        }),
      )
      app.use(express.json())
      if (options.crash) {
        app.use((req, _res, next) => {
          // The answer is stored before its bytes leave (captureNodeResponse holds end() for the store):
          // dropping the connection at its first byte loses the answer, never the stored response.
          const socket = req.socket
          socket.write = (() => {
            socket.destroy()
            return false
          }) as typeof socket.write
          next()
        })
      }
      const writes = idempotency({ store: redisIdempotencyStore(redis, { prefix }), required: true })
      app.post('/v1/charges', idempotent(writes), async (req, res) => {
        runs.count++
        if (options.delay) await new Promise((resolve) => setTimeout(resolve, options.delay))
        res.status(201).json({ charge: `ch_${runs.count}`, amount: (req.body as { amount: number }).amount })
      })
      return app
    }

    function listen(server: Server, port = 0): Promise<number> {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
      })
    }

    function stop(server: Server): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }

    it('runs the handler once when a keyed POST is retried across a restart of the service', async () => {
      const runs = { count: 0 }
      const first = createServer(billing(runs, { crash: true }))
      const port = await listen(first)
      let second: Server | undefined
      // The first replica goes down once it has lost its answer; another comes up on the same port.
      first.on('connection', (socket) => {
        socket.on('close', () => {
          if (second !== undefined) return
          second = createServer(billing(runs))
          stop(first)
            .then(() => listen(second as Server, port))
            .catch(() => {})
        })
      })
      const events: ClientEvent[] = []
      const client = zeroTrustClient({
        baseUrl: `http://127.0.0.1:${port}`,
        tokens,
        retry: { attempts: 8, baseDelay: 50, maxDelay: 400 },
        onEvent: (e) => events.push(e),
      })
      const res = await client.fetch('/v1/charges', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 42 }),
        idempotencyKey: `order-${Date.now()}`,
      })
      expect(res.status).toBe(201)
      expect(res.headers.get('idempotent-replayed')).toBe('true')
      expect(await res.json()).toEqual({ charge: 'ch_1', amount: 42 })
      expect(runs.count).toBe(1)
      expect(events[0]).toMatchObject({ attempt: 1, outcome: 'error', reason: 'connection_failed' })
      expect(events.at(-1)).toMatchObject({ outcome: 'allow', status: 201 })
      await client.close()
      if (second !== undefined) await stop(second)
    })

    it('waits out its own first attempt still in flight (409), then gets its answer', async () => {
      const runs = { count: 0 }
      const server = createServer(billing(runs, { delay: 800 }))
      const port = await listen(server)
      const events: ClientEvent[] = []
      const client = zeroTrustClient({
        baseUrl: `http://127.0.0.1:${port}`,
        tokens,
        timeout: 300,
        retry: { attempts: 6, baseDelay: 10, maxDelay: 50 },
        onEvent: (e) => events.push(e),
      })
      const res = await client.fetch('/v1/charges', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 7 }),
        idempotencyKey: `slow-${Date.now()}`,
      })
      expect(res.status).toBe(201)
      expect(await res.json()).toEqual({ charge: 'ch_1', amount: 7 })
      expect(runs.count).toBe(1)
      expect(events.map((e) => e.reason ?? e.status)).toContain('timeout')
      expect(events.some((e) => e.status === 409 && e.retryInMs === 1000)).toBe(true)
      await client.close()
      await stop(server)
    })
  },
)
