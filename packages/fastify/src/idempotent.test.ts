import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import type { DecisionEvent, IdempotencyStore } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { testIssuer } from '@zerotrust/testkit'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
// The adapter depends on core only; its tests take the layer from the sibling package's sources.
import { idempotency, memoryIdempotencyStore } from '../../idempotency/src/index.js'
import { idempotent, zeroTrust } from './index.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://payments'
let sign: (claims?: Record<string, unknown>) => Promise<string>
let app: FastifyInstance
let server: { url: string }
let runs = 0
let gate: Promise<void> = Promise.resolve()
const events: DecisionEvent[] = []
const down: IdempotencyStore = {
  claim: () => Promise.reject(new Error('ECONNREFUSED')),
  complete: () => Promise.reject(new Error('ECONNREFUSED')),
  release: () => Promise.reject(new Error('ECONNREFUSED')),
}
interface Payment {
  readonly amount?: number
  readonly fail?: boolean
  readonly chunks?: number
}

beforeAll(async () => {
  const idp = await testIssuer({ issuer, audience })
  sign = idp.sign
  const writes = idempotency({ store: memoryIdempotencyStore(), required: true, maxBodyBytes: 4096 })
  app = Fastify()
  await app.register(zeroTrust, {
    authenticator: jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks }),
    onDecision: (e) => events.push(e),
  })
  app.post('/payments', { preHandler: idempotent(writes) }, async (request, reply) => {
    runs += 1
    const run = runs
    await gate
    const body = request.body as Payment
    if (body.fail) return reply.code(502).send({ error: 'upstream failed' })
    return reply
      .code(201)
      .header('set-cookie', `session=s${run}; Path=/`)
      .header('x-run', String(run))
      .header('location', `/payments/${run}`)
      .send({ id: run, amount: body.amount, subject: request.auth?.subject })
  })
  app.post('/stream', { preHandler: idempotent(writes) }, async (request, reply) => {
    runs += 1
    const run = runs
    const count = (request.body as Payment).chunks ?? 0
    const parts = Array.from({ length: count }, (_, i) => `chunk ${i} of run ${run}\n`.padEnd(100, '.'))
    return reply
      .code(200)
      .type('text/plain')
      .send(Readable.from([...parts, 'end']))
  })
  app.post('/crash', { preHandler: idempotent(writes) }, async () => {
    runs += 1
    throw new Error('database password is hunter2')
  })
  app.post('/down', { preHandler: idempotent(idempotency({ store: down })) }, async () => {
    runs += 1
    return { ran: true }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  server = { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
})
afterAll(() => app.close())
beforeEach(() => {
  runs = 0
  gate = Promise.resolve()
  events.length = 0
})

async function post(path: string, body: unknown, key: string | undefined, subject = 'alice') {
  const headers: Record<string, string> = {
    authorization: `Bearer ${await sign({ sub: subject })}`,
    'content-type': 'application/json',
  }
  if (key !== undefined) headers['idempotency-key'] = key
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) }
}
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe('idempotent() on Fastify', () => {
  it('runs the first request once and replays its status, allowlisted headers and exact body', async () => {
    const first = await post('/payments', { amount: 5 }, '"pay-1"')
    expect(first.res.status).toBe(201)
    expect(first.res.headers.get('set-cookie')).toMatch(/^session=s1/)
    const retry = await post('/payments', { amount: 5 }, '"pay-1"')
    expect(runs).toBe(1)
    expect(retry.res.status).toBe(201)
    expect(retry.bytes).toEqual(first.bytes)
    expect(retry.res.headers.get('content-type')).toBe(first.res.headers.get('content-type'))
    expect(retry.res.headers.get('location')).toBe('/payments/1')
    expect(retry.res.headers.get('idempotent-replayed')).toBe('true')
    expect(first.res.headers.get('idempotent-replayed')).toBeNull()
    // Never replayed: cookies, and headers outside the allowlist.
    expect(retry.res.headers.get('set-cookie')).toBeNull()
    expect(retry.res.headers.get('x-run')).toBeNull()
    expect(events.filter((e) => e.layer === 'idempotency').map((e) => e.reason)).toEqual([
      'claimed',
      'replayed',
    ])
  })

  it('replays the same payload sent with its keys in another order', async () => {
    await post('/payments', { amount: 5, currency: 'EUR' }, '"pay-order"')
    const res = await fetch(`${server.url}/payments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await sign()}`,
        'content-type': 'application/json',
        'idempotency-key': '"pay-order"',
      },
      body: '{ "currency": "EUR",\n "amount": 5 }',
    })
    expect(res.headers.get('idempotent-replayed')).toBe('true')
    expect(runs).toBe(1)
  })

  it('answers a concurrent duplicate with 409 and Retry-After while the first runs', async () => {
    let open = () => {}
    gate = new Promise((resolve) => {
      open = resolve
    })
    const first = post('/payments', { amount: 5 }, '"pay-2"')
    while (runs === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const second = await post('/payments', { amount: 5 }, '"pay-2"')
    expect(second.res.status).toBe(409)
    expect(Number(second.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(second.res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(JSON.parse(text(second.bytes))).toMatchObject({ code: 'idempotency_conflict' })
    open()
    expect((await first).res.status).toBe(201)
    expect(runs).toBe(1)
  })

  it('answers the key reused with another payload with 422', async () => {
    await post('/payments', { amount: 5 }, '"pay-3"')
    const other = await post('/payments', { amount: 500 }, '"pay-3"')
    expect(other.res.status).toBe(422)
    expect(JSON.parse(text(other.bytes))).toMatchObject({ code: 'idempotency_key_reused', status: 422 })
    expect(runs).toBe(1)
  })

  it('answers a missing or malformed key with 400 where one is required', async () => {
    const missing = await post('/payments', { amount: 5 }, undefined)
    expect(missing.res.status).toBe(400)
    expect(JSON.parse(text(missing.bytes))).toMatchObject({
      code: 'invalid_idempotency_key',
      reason: 'missing_key',
    })
    expect((await post('/payments', { amount: 5 }, 'unquoted')).res.status).toBe(400)
    expect(runs).toBe(0)
  })

  it('does not store a 5xx: the key is released and the retry runs', async () => {
    expect((await post('/payments', { amount: 5, fail: true }, '"pay-4"')).res.status).toBe(502)
    expect((await post('/payments', { amount: 5, fail: true }, '"pay-4"')).res.status).toBe(502)
    expect(runs).toBe(2)
  })

  it('releases the key when the handler throws', async () => {
    expect((await post('/crash', {}, '"crash-1"')).res.status).toBe(500)
    expect((await post('/crash', {}, '"crash-1"')).res.status).toBe(500)
    expect(runs).toBe(2)
  })

  it("gives a caller replaying another caller's key nothing of theirs", async () => {
    const alice = await post('/payments', { amount: 5 }, '"shared-key"', 'alice')
    const bob = await post('/payments', { amount: 5 }, '"shared-key"', 'bob')
    expect(runs).toBe(2)
    expect(bob.res.headers.get('idempotent-replayed')).toBeNull()
    expect(JSON.parse(text(bob.bytes))).toEqual({ id: 2, amount: 5, subject: 'bob' })
    expect(text(bob.bytes)).not.toContain('alice')
    expect(JSON.parse(text(alice.bytes))).toMatchObject({ subject: 'alice' })
  })

  it('captures a streamed body within the cap, and releases the key of one over it', async () => {
    const small = await post('/stream', { chunks: 3 }, '"stream-1"')
    const replay = await post('/stream', { chunks: 3 }, '"stream-1"')
    expect(replay.res.headers.get('idempotent-replayed')).toBe('true')
    expect(replay.bytes).toEqual(small.bytes)
    expect(runs).toBe(1)
    const big = await post('/stream', { chunks: 100 }, '"stream-2"')
    expect(big.bytes.byteLength).toBe(100 * 100 + 3)
    const again = await post('/stream', { chunks: 100 }, '"stream-2"')
    expect(again.res.headers.get('idempotent-replayed')).toBeNull()
    expect(again.bytes.byteLength).toBe(100 * 100 + 3)
    expect(runs).toBe(3)
  })

  it('fails closed with 503 when the store is down, and the handler never runs', async () => {
    const res = await post('/down', {}, '"down-1"')
    expect(res.res.status).toBe(503)
    expect(res.res.headers.get('retry-after')).not.toBeNull()
    expect(JSON.parse(text(res.bytes))).toMatchObject({ code: 'dependency_unavailable' })
    expect(runs).toBe(0)
  })

  it('rejects a non-layer at construction', () => {
    expect(() => idempotent({} as never)).toThrow(TypeError)
  })
})
