// A payments service of one replica, started as a child process by the Redis-backed tests: Fastify, the
// zerotrust plugin, and idempotent() on a Redis store shared with the other replica. It prints
// `{"port":N}` once listening. Run with tsx and `--conditions=@zerotrust/source`, so workspace packages are
// imported from their sources, as the tests import them.
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { idempotent, zeroTrust } from '@zerotrust/fastify'
import { idempotency } from '@zerotrust/idempotency'
import { jwtBearer } from '@zerotrust/jwt'
import { redisIdempotencyStore } from '@zerotrust/redis'
import Fastify from 'fastify'
import { Redis } from 'ioredis'

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const redis = new Redis({
  host: '127.0.0.1',
  port: Number(env('REDIS_PORT')),
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
})
redis.on('error', () => {})
const store = redisIdempotencyStore(redis, { prefix: env('KEY_PREFIX') })
// Waits for a concurrent first request to finish, so every duplicate gets its response.
const waiting = idempotency({ store, required: true, wait: { timeout: 20_000, interval: 20 } })
// Answers a duplicate with 409 at once; a crashed holder keeps the key for one second. Only `amount`
// makes up the payload's fingerprint (`delay` is how the test steers the handler).
const shortLock = idempotency({ store, required: true, lockTtl: 1000, fields: ['amount'] })

let runs = 0
const app = Fastify()
await app.register(zeroTrust, {
  authenticator: jwtBearer({
    issuer: env('ISSUER'),
    audience: env('AUDIENCE'),
    algorithms: ['ES256'],
    jwks: JSON.parse(env('JWKS')),
  }),
})
app.get('/runs', { config: { zeroTrust: false } }, async () => ({ runs }))
for (const [path, layer] of [
  ['/payments', waiting],
  ['/crashable', shortLock],
] as const) {
  app.post(path, { preHandler: idempotent(layer) }, async (request, reply) => {
    runs += 1
    const { amount, delay } = request.body as { amount: number; delay: number }
    await sleep(delay)
    return reply.code(201).send({ id: randomUUID(), pid: process.pid, amount })
  })
}
await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as AddressInfo).port })}\n`)
