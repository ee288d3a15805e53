// Redis going away and coming back, on a private redis-server process this test may kill (the shared
// Redis on 6379 is never touched).

import { type PrivateRedis, redisHost, redisServerBinary, startPrivateRedis } from '@zerotrust/testkit/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisIdempotencyStore, redisReplayStore } from '../src/index.js'

const binary = redisServerBinary()
if (binary === undefined) console.warn('redis-server is not installed: skipping the redis outage tests')

const operationTimeout = 200

/** Polls `condition` every 50 ms, at most `tries` times. */
async function waitFor(condition: () => boolean, what: string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (condition()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting until ${what}`)
}

describe.skipIf(binary === undefined)('redis stores when Redis stops, stalls and returns', () => {
  let server: PrivateRedis
  // ioredis defaults: while disconnected, commands wait in the offline queue for up to 20 reconnection
  // attempts. Only the store's own deadline bounds how long a caller waits.
  let patient: Redis
  // The recommended settings: no offline queue, one retry; commands fail at once while disconnected.
  let failFast: Redis

  beforeAll(async () => {
    server = await startPrivateRedis(binary as string)
    patient = new Redis({ host: redisHost, port: server.port })
    failFast = new Redis({
      host: redisHost,
      port: server.port,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 1000,
    })
    for (const client of [patient, failFast]) client.on('error', () => {}) // connection errors are expected
    await waitFor(() => patient.status === 'ready' && failFast.status === 'ready', 'both clients are ready')
  })

  afterAll(async () => {
    patient?.disconnect()
    failFast?.disconnect()
    await server?.kill()
  })

  it('rejects every operation with a 503 error while Redis is down, and works again when it returns', async () => {
    const options = { prefix: 'outage:', operationTimeout }
    const stores = [patient, failFast].map((client) => ({
      replay: redisReplayStore(client, options),
      idempotency: redisIdempotencyStore(client, options),
    }))
    const [slow, fast] = stores as [(typeof stores)[0], (typeof stores)[0]]
    expect(await slow.replay.claim('before', 60_000)).toBe(true)
    const held = await fast.idempotency.claim('held', 'fp', 60_000)
    if (held.state !== 'claimed') throw new Error('expected a claim')

    await server.kill()
    await waitFor(() => patient.status !== 'ready' && failFast.status !== 'ready', 'both clients see it')

    const response = { status: 200, headers: {}, body: new Uint8Array([1]) }
    // The patient client would queue for seconds: the deadline answers.
    const timeout = { code: 'dependency_unavailable', status: 503, reason: 'redis_timeout' }
    await expect(slow.replay.claim('late', 60_000)).rejects.toMatchObject(timeout)
    await expect(slow.idempotency.claim('during', 'fp', 60_000)).rejects.toMatchObject(timeout)
    await expect(slow.idempotency.complete('held', held.owner, response, 60_000)).rejects.toMatchObject(
      timeout,
    )
    await expect(slow.idempotency.release('held', held.owner)).rejects.toMatchObject(timeout)
    await expect(slow.idempotency.extend('held', held.owner, 60_000)).rejects.toMatchObject(timeout)
    // The fail-fast client refuses at once.
    const refused = { code: 'dependency_unavailable', status: 503, reason: 'redis_error' }
    await expect(fast.replay.claim('during', 60_000)).rejects.toMatchObject(refused)
    await expect(fast.idempotency.claim('during', 'fp', 60_000)).rejects.toMatchObject(refused)
    await expect(fast.idempotency.complete('held', held.owner, response, 60_000)).rejects.toMatchObject(
      refused,
    )
    await expect(fast.idempotency.release('held', held.owner)).rejects.toMatchObject(refused)
    await expect(fast.idempotency.extend('held', held.owner, 60_000)).rejects.toMatchObject(refused)

    await server.start()
    await waitFor(() => patient.status === 'ready' && failFast.status === 'ready', 'both clients reconnect')

    // A new Redis process without persistence: everything from before is gone, and both clients work.
    for (const { replay, idempotency } of stores) {
      expect(await replay.claim(`after-${Math.random()}`, 60_000)).toBe(true)
      const claim = await idempotency.claim(`after-${Math.random()}`, 'fp', 60_000)
      expect(claim.state).toBe('claimed')
    }
    // The old owner holds nothing on the new server.
    expect(await fast.idempotency.complete('held', held.owner, response, 60_000)).toBe(false)
    // What the README warns about: the patient client's queued commands ran once Redis came back, after
    // their callers had been answered 503. The late replay claim is recorded (a proof that got a 503 stays
    // used, which is safe), and the late idempotency claim holds its key until its lock TTL passes.
    // (Checked on the same connection, which sent its queue before anything newer.)
    expect(await slow.replay.claim('late', 60_000)).toBe(false)
    expect(await slow.idempotency.claim('during', 'fp', 60_000)).toEqual({
      state: 'in_flight',
      fingerprint: 'fp',
    })
  }, 30_000)

  it('rejects a command Redis answers after the deadline, though Redis may still apply it', async () => {
    const store = redisReplayStore(failFast, { prefix: 'stall:', operationTimeout })
    const admin = new Redis({ host: redisHost, port: server.port, maxRetriesPerRequest: 1 })
    try {
      // Redis holds every client's commands for 600 ms: a stall, not an outage.
      await admin.client('PAUSE', 600, 'ALL')
      await expect(store.claim('stalled', 60_000)).rejects.toMatchObject({
        code: 'dependency_unavailable',
        reason: 'redis_timeout',
      })
      // Answered once the pause ends; by then the claim has been applied.
      expect(await admin.exists('stall:stalled')).toBe(1)
      expect(await store.claim('stalled', 60_000)).toBe(false)
    } finally {
      admin.disconnect()
    }
  }, 30_000)
})
