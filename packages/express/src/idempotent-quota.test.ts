// Regression (issue 12, item 3): 10,000 keys from one caller made the idempotency store answer 503 to
// every other caller for "minRetention". Each caller now has a share of the store: over HTTP, the caller
// that floods gets 429 with Retry-After, and another caller's write still runs.
import type { DecisionEvent } from '@zerotrust/core'
// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { jwtBearer } from '@zerotrust/jwt'
import { startHttpServer, testIssuer } from '@zerotrust/testkit'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { authenticate, idempotent } from './index.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'

describe('idempotent() on Express: one caller cannot fill the store for everyone (issue 12)', () => {
  it("answers the flooding caller 429 with Retry-After at its share, and runs another caller's write", async () => {
    const idp = await testIssuer({ issuer, audience })
    const tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })
    const events: DecisionEvent[] = []
    const runs = new Map<string, number>()
    const store = memoryIdempotencyStore({ maxEntries: 100, maxEntriesPerCaller: 5 })
    const app = express()
    app.use(authenticate(tokens, { publicOrigin: 'http://127.0.0.1', onDecision: (e) => events.push(e) }))
    app.use(express.json())
    app.post('/orders', idempotent(idempotency({ store, required: true })), (req, res) => {
      const subject = req.auth?.subject ?? ''
      runs.set(subject, (runs.get(subject) ?? 0) + 1)
      res.status(201).json({ by: subject })
    })
    const server = await startHttpServer(app)
    const post = (token: string, key: string) =>
      fetch(`${server.url}/orders`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': `"${key}"`,
        },
        body: '{"amount":5}',
      })
    try {
      const mallory = await idp.sign({ sub: 'mallory' })
      const alice = await idp.sign({ sub: 'alice' })
      for (let i = 0; i < 5; i++) expect((await post(mallory, `flood-${i}`)).status).toBe(201)

      const refused = await post(mallory, 'flood-5')
      expect(refused.status).toBe(429)
      expect(await refused.json()).toMatchObject({ code: 'rate_limited', reason: 'caller_quota' })
      // Honest: its oldest response may go once older than "minRetention" (10 minutes), not a constant.
      const retryAfter = Number(refused.headers.get('retry-after'))
      expect(retryAfter).toBeGreaterThan(590)
      expect(retryAfter).toBeLessThanOrEqual(600)
      expect(events.at(-1)).toMatchObject({ layer: 'idempotency', outcome: 'deny', code: 'rate_limited' })

      // Another caller's write runs; the flooding caller's retries still replay.
      const write = await post(alice, 'order-1')
      expect(write.status).toBe(201)
      expect(await write.json()).toEqual({ by: 'alice' })
      const replay = await post(mallory, 'flood-0')
      expect(replay.status).toBe(201)
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      expect(Object.fromEntries(runs)).toEqual({ mallory: 5, alice: 1 })
    } finally {
      await server.close()
    }
  })
})
