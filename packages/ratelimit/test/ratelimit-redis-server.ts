// One replica of an orders service, started as a child process by ratelimit-redis.test.ts: Express,
// jwtBearer wrapped in failureLimit() (FAILURES refusals per peer), and rateLimit(), both counting on the
// Redis (or Redis Cluster) shared with the other replica. It prints `{"port":N}` once listening. Run with
// tsx and `--conditions=@zerotrust/source`.
import type { AddressInfo } from 'node:net'
import { authenticate, authorize, errorHandler } from '@zerotrust/express'
import { jwtBearer } from '@zerotrust/jwt'
import { failureLimit, rateLimit } from '@zerotrust/ratelimit'
import express from 'express'
import { Cluster, Redis } from 'ioredis'

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

// REDIS_CLUSTER_PORTS (comma-separated) names a Redis Cluster's nodes; else REDIS_PORT a standalone Redis.
const clusterPorts = process.env.REDIS_CLUSTER_PORTS
const redis =
  clusterPorts === undefined
    ? new Redis({
        host: '127.0.0.1',
        port: Number(env('REDIS_PORT')),
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
      })
    : new Cluster(
        clusterPorts.split(',').map((port) => ({ host: '127.0.0.1', port: Number(port) })),
        { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } },
      )
redis.on('error', () => {})
await new Promise((resolve) => redis.once('ready', resolve))

const limits = rateLimit({
  budgets: [{ name: 'orders', limit: Number(env('LIMIT')), windowSeconds: 60 }],
  redis,
  prefix: env('KEY_PREFIX'),
})
const tokens = jwtBearer({
  issuer: env('ISSUER'),
  audience: env('AUDIENCE'),
  algorithms: ['ES256'],
  jwks: JSON.parse(env('JWKS')),
})
const guarded = failureLimit(tokens, {
  failures: Number(env('FAILURES')),
  windowSeconds: 60,
  redis,
  prefix: env('KEY_PREFIX'),
})
const app = express()
app.use(authenticate(guarded, { publicOrigin: 'https://api.example.com' }))
app.get('/orders', authorize(limits), (_req, res) => {
  res.json({ pid: process.pid })
})
app.use(errorHandler())
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`)
})
