// One replica of a payments service on a Redis Cluster, started as a child process by
// redis-cluster-failover.test.ts: Fastify, DPoP-bound tokens whose proofs are claimed in
// redisReplayStore, and idempotent() POSTs on redisIdempotencyStore, both on an ioredis Cluster client.
// It counts its handler's runs per Idempotency-Key and prints `{"port":N}` once listening. Run with tsx
// and `--conditions=@zerotrust/source`.
import type { AddressInfo } from 'node:net'
import { dpop } from '@zerotrust/dpop'
import { idempotent, zeroTrust } from '@zerotrust/fastify'
import { idempotency } from '@zerotrust/idempotency'
import { jwtBearer } from '@zerotrust/jwt'
import { redisIdempotencyStore, redisReplayStore } from '@zerotrust/redis'
import Fastify from 'fastify'
import { Cluster } from 'ioredis'

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

// The settings the README recommends for a Cluster: no offline queue, one retry per command.
const redis = new Cluster(
  env('REDIS_CLUSTER_PORTS')
    .split(',')
    .map((port) => ({ host: '127.0.0.1', port: Number(port) })),
  { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } },
)
redis.on('error', () => {})
await new Promise((resolve) => redis.once('ready', resolve))

// The deadline counts this process's own event loop too: 2 s, so a loaded test machine verifying 200
// proofs at once does not read as a Redis outage.
const options = { operationTimeout: 2000 }
const writes = idempotency({ store: redisIdempotencyStore(redis, options), required: true })
const runs = new Map<string, number>()
const app = Fastify()
await app.register(zeroTrust, {
  authenticator: dpop(
    jwtBearer({
      issuer: env('ISSUER'),
      audience: env('AUDIENCE'),
      algorithms: ['ES256'],
      jwks: JSON.parse(env('JWKS')),
    }),
    { required: true, algorithms: ['ES256'], replayStore: redisReplayStore(redis, options) },
  ),
  publicOrigin: 'https://api.example.com',
})
app.get('/runs', { config: { zeroTrust: false } }, async () => Object.fromEntries(runs))
app.post('/payments', { preHandler: idempotent(writes) }, async (request, reply) => {
  const key = String(request.headers['idempotency-key'])
  runs.set(key, (runs.get(key) ?? 0) + 1)
  return reply.code(201).send({ key, pid: process.pid })
})
await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as AddressInfo).port })}\n`)
