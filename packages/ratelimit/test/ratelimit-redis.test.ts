// rateLimit on Redis, for real: two replicas (child processes) sharing one budget on the Redis at
// 127.0.0.1:6379, and a Redis that does not answer. In CI these must run; elsewhere they skip when Redis
// is not reachable.
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { type Auth, renderError } from '@zerotrust/core'
import { rateLimit } from '@zerotrust/ratelimit'
import { testIssuer } from '@zerotrust/testkit'
import { connect, deleteKeys, keysUnder, skipWithoutRedis, uniquePrefix } from '@zerotrust/testkit/redis'
import {
  type RedisCluster,
  skipWithoutRedisBinaries,
  startRedisCluster,
} from '@zerotrust/testkit/redis-cluster'
import { type Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'
const skip = await skipWithoutRedis()
const packageDir = fileURLToPath(new URL('..', import.meta.url))

interface Replica {
  readonly url: string
  readonly child: ChildProcess
}

/** Starts test/ratelimit-redis-server.ts with `env`; waits at most 30 s until it listens. */
function startReplica(env: Record<string, string>): Promise<Replica> {
  const child = spawn(
    process.execPath,
    ['--conditions=@zerotrust/source', '--import', 'tsx', 'test/ratelimit-redis-server.ts'],
    { cwd: packageDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let errors = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString('utf8')
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the replica did not start within 30 s: ${errors}`))
    }, 30_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the replica exited with ${code}: ${errors}`))
    })
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8')
      const line = out.split('\n')[0]
      if (!out.includes('\n') || line === undefined) return
      clearTimeout(timer)
      resolve({ url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`, child })
    })
  })
}

async function stop(replica: Replica | undefined): Promise<void> {
  if (replica === undefined || replica.child.exitCode !== null || replica.child.signalCode !== null) return
  const exited = new Promise((done) => replica.child.once('exit', done))
  replica.child.kill('SIGKILL')
  await exited
}

// A budget is one key (rate-limiter-flexible's script touches only it), so it lives on one Cluster node.
const deployments = [
  { name: 'Redis', skip, cluster: false },
  {
    name: 'a Redis Cluster (issue 22)',
    skip: skipWithoutRedisBinaries('the rate limit on a redis cluster'),
    cluster: true,
  },
]

for (const deployment of deployments)
  describe.skipIf(deployment.skip)(
    `rateLimit on ${deployment.name} shared by two replicas (issue 18)`,
    () => {
      const prefix = uniquePrefix('ratelimit')
      let cluster: RedisCluster | undefined
      let redis: Redis | Cluster
      let a: Replica | undefined
      let b: Replica | undefined
      let sign: (claims?: Record<string, unknown>) => Promise<string>

      beforeAll(async () => {
        cluster = deployment.cluster ? await startRedisCluster() : undefined
        redis =
          cluster === undefined ? connect() : cluster.client({ redisOptions: { maxRetriesPerRequest: 1 } })
        const idp = await testIssuer({ issuer, audience })
        sign = idp.sign
        const env = {
          ...(cluster === undefined
            ? { REDIS_PORT: '6379' }
            : { REDIS_CLUSTER_PORTS: cluster.startupNodes.map((node) => node.port).join(',') }),
          KEY_PREFIX: prefix,
          LIMIT: '5',
          FAILURES: '4',
          ISSUER: issuer,
          AUDIENCE: audience,
          JWKS: JSON.stringify(idp.jwks),
        }
        ;[a, b] = await Promise.all([startReplica(env), startReplica(env)])
      }, 90_000)
      afterAll(async () => {
        await Promise.all([stop(a), stop(b)])
        if (redis !== undefined) {
          await deleteKeys(redis, prefix)
          redis.disconnect()
        }
        await cluster?.stop()
      })

      it('spends one budget across both replicas: exactly 5 of 8 requests pass, the rest answer 429', async () => {
        const token = await sign({ sub: 'alice', client_id: 'web-app' })
        const get = async (replica: Replica | undefined) => {
          const response = await fetch(`${replica?.url}/orders`, {
            headers: { authorization: `Bearer ${token}` },
          })
          await response.arrayBuffer()
          return response
        }
        const statuses: number[] = []
        for (let i = 0; i < 8; i++) statuses.push((await get(i % 2 === 0 ? a : b)).status)
        expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
        const refused = await get(b)
        expect(refused.status).toBe(429)
        expect(refused.headers.get('ratelimit-policy')).toBe('"orders";q=5;w=60')
        expect(refused.headers.get('ratelimit')).toMatch(/^"orders";r=0;t=\d+$/)
        // Another identity has its own budget on both replicas.
        const bob = await sign({ sub: 'bob', client_id: 'web-app' })
        const other = await fetch(`${a?.url}/orders`, { headers: { authorization: `Bearer ${bob}` } })
        expect(other.status).toBe(200)
        // The budget lives in Redis under the configured prefix, with the window as its expiry.
        const keys = await keysUnder(redis, prefix)
        expect(keys.length).toBe(2)
        const ttl = await redis.pttl(keys[0] as string)
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(60_000)
      })

      // Last: from here on both replicas refuse this peer (127.0.0.1) until the window ends.
      it("adds up a peer's failed authentications across both replicas (failureLimit)", async () => {
        const send = async (replica: Replica | undefined, token = 'e30.e30.e30') => {
          const response = await fetch(`${replica?.url}/orders`, {
            headers: { authorization: `Bearer ${token}` },
          })
          await response.arrayBuffer()
          return response
        }
        const statuses: number[] = []
        // Two refusals on each: 4 in all, so the replica that counted the 4th refuses the peer at once.
        for (const replica of [a, b, a, b, b]) statuses.push((await send(replica)).status)
        expect(statuses).toEqual([401, 401, 401, 401, 429])
        // The other replica, which last saw a count of 3, learns it at the peer's next refusal.
        expect((await send(a)).status).toBe(401)
        const refused = await send(a)
        expect(refused.status).toBe(429)
        expect(refused.headers.get('ratelimit-policy')).toBe('"auth-failures";q=4;w=60')
        // The peer is refused before its token is checked, a good one too.
        const good = await sign({ sub: 'carol', client_id: 'web-app' })
        expect((await send(b, good)).status).toBe(429)
        // One count for the peer in Redis, under the prefix, expiring with the window.
        const [key, ...others] = (await keysUnder(redis, prefix)).filter((name) =>
          name.includes('#auth-failures'),
        )
        expect(others).toEqual([])
        expect(await redis.get(key as string)).toBe('5')
        const ttl = await redis.pttl(key as string)
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(60_000)
      })
    },
  )

describe('rateLimit on a Redis that does not answer', () => {
  const auth = {
    subject: 'alice',
    issuer,
    audience: [],
    clientId: undefined,
    scopes: [],
    claims: {},
  } as unknown as Auth
  const req = { method: 'GET', origin: undefined, target: '/orders', path: '/orders', headerValues: () => [] }
  let port: number
  let client: Redis

  beforeAll(async () => {
    // A port nothing listens on: a server that bound it and closed again.
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as { port: number }).port
    await new Promise((resolve) => server.close(resolve))
    client = new Redis({
      host: '127.0.0.1',
      port,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: true,
    })
    client.on('error', () => {})
  })
  afterAll(() => {
    client.disconnect()
  })

  it('fails closed with 503 rate_limit_store_unavailable by default', async () => {
    const decision = await rateLimit({
      budgets: [{ name: 'orders', limit: 5, windowSeconds: 60 }],
      redis: client,
    }).authorize(req, auth)
    expect(decision.allowed).toBe(false)
    if (decision.allowed) return
    expect(decision.error).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'rate_limit_store_unavailable',
    })
    expect(renderError(decision.error).headers['retry-after']).toBe('5')
  })

  it("lets the request through with onStoreFailure 'allow', reported in the decision", async () => {
    const decision = await rateLimit({
      budgets: [{ name: 'orders', limit: 5, windowSeconds: 60 }],
      redis: client,
      onStoreFailure: 'allow',
    }).authorize(req, auth)
    expect(decision).toEqual({
      allowed: true,
      policies: ['orders'],
      diagnostics: ['rate_limit_store_unavailable'],
    })
  })
})
