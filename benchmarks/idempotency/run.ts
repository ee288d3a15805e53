// Idempotent POSTs on Fastify, over HTTP with autocannon (server in a child process), in one run: the
// same authenticated route bare, behind idempotent() on the memory store and on the Redis store
// (127.0.0.1:6379); first requests (a new key each) and replays (one key). Reports req/s and the ratio to
// the bare route.
//
// Run, after `pnpm build` (the packages load from their dist, as users get them):
// pnpm --filter @zerotrust/benchmarks bench:idempotency. BENCH_SECONDS (per run, default 5),
// BENCH_CONNECTIONS (default 50) and BENCH_ROUNDS (interleaved rounds, best kept; default 2) override the
// defaults. It lives here, not in packages/idempotency, because it starts the Fastify adapter's server.
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { idempotent, zeroTrust } from '@zerotrust/fastify'
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { jwtBearer } from '@zerotrust/jwt'
import { redisIdempotencyStore } from '@zerotrust/redis'
import { testIssuer } from '@zerotrust/testkit'
import autocannon from 'autocannon'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const rounds = Number(process.env.BENCH_ROUNDS ?? 2)
const issuer = 'https://idp.example.com/'
const audience = 'api://payments'
// One prefix for the parent (which cleans up) and the server it starts.
const prefix = process.env.BENCH_PREFIX ?? `zt-bench:idem:${process.pid}:`
process.env.BENCH_PREFIX = prefix

/** The server: one Fastify app with the three routes, in its own process so autocannon does not share its CPU. */
async function serve(): Promise<void> {
  const idp = JSON.parse(process.env.BENCH_JWKS as string)
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 })
  const app = Fastify()
  await app.register(zeroTrust, {
    authenticator: jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp }),
  })
  const memory = idempotency({
    store: memoryIdempotencyStore({ maxEntries: 1_000_000, maxBytes: 512 * 1024 * 1024 }),
  })
  const shared = idempotency({ store: redisIdempotencyStore(redis, { prefix }) })
  let id = 0
  const handler = async (request: FastifyRequest, reply: FastifyReply) =>
    reply.code(201).send({ id: ++id, amount: (request.body as { amount: number }).amount })
  app.post('/bare', handler)
  app.post('/memory', { preHandler: idempotent(memory) }, handler)
  app.post('/redis', { preHandler: idempotent(shared) }, handler)
  await app.listen({ port: 0, host: '127.0.0.1' })
  process.stdout.write(`${(app.server.address() as AddressInfo).port}\n`)
}

async function main(): Promise<void> {
  const idp = await testIssuer({ issuer, audience })
  const token = await idp.sign({ scope: 'payments:write' })
  // The server runs as this process does (tsx, and any --conditions): the same build of every package.
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_ROLE: 'server', BENCH_JWKS: JSON.stringify(idp.jwks) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)))
    child.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8').trim()))
  })
  const url = `http://127.0.0.1:${port}`
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

  let counter = 0
  // The bare route gets a new key per request too (ignored), so the client works alike in every run.
  const run = async (path: string, keys: 'new' | 'one') => {
    const result = await autocannon({
      url,
      connections,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          path,
          headers,
          body: '{"amount":42,"currency":"EUR"}',
          setupRequest: (request) => {
            const key = keys === 'new' ? `"bench-${++counter}"` : '"bench-replay"'
            return { ...request, headers: { ...request.headers, 'idempotency-key': key } }
          },
        },
      ],
    })
    const bad = result.non2xx + result.errors + result.timeouts
    // Reported, not hidden: a failed request would flatter the req/s of its run.
    if (bad > 0) console.warn(`${path}: ${bad} failed requests`, JSON.stringify(result.statusCodeStats))
    return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 }
  }

  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 })
  try {
    // Warm the JIT and the verified-token cache on every route before measuring.
    for (const path of ['/bare', '/memory', '/redis']) {
      await autocannon({
        url,
        connections: 10,
        amount: 2000,
        requests: [
          { method: 'POST', path, headers: { ...headers, 'idempotency-key': `"warm-${path}"` }, body: '{}' },
        ],
      })
    }
    const variants = [
      ['bare route (authenticated, no idempotency)', '/bare', 'new'],
      ['idempotent, memory store, new key each request', '/memory', 'new'],
      ['idempotent, Redis store, new key each request', '/redis', 'new'],
      ['idempotent, memory store, replay of one key', '/memory', 'one'],
      ['idempotent, Redis store, replay of one key', '/redis', 'one'],
    ] as const
    // Interleaved rounds, best of each: on a shared machine the best run is the one least disturbed.
    const best = new Map<string, Awaited<ReturnType<typeof run>>>()
    for (let round = 0; round < rounds; round++) {
      for (const [name, path, keys] of variants) {
        const result = await run(path, keys)
        if ((best.get(name)?.rps ?? 0) < result.rps) best.set(name, result)
      }
    }
    const rows = [...best]
    const base = rows[0]?.[1].rps ?? 1
    const cpu = os.cpus()
    console.log(
      `${cpu[0]?.model}, ${cpu.length} cores, Node ${process.version}; ${connections} connections, ${seconds} s per run`,
    )
    console.log('| route | req/s | ratio to bare | p50 ms | p99 ms |')
    console.log('| --- | --: | --: | --: | --: |')
    for (const [name, r] of rows) {
      console.log(`| ${name} | ${Math.round(r.rps)} | ${(r.rps / base).toFixed(2)} | ${r.p50} | ${r.p99} |`)
    }
  } finally {
    child.kill('SIGTERM')
    let cursor = '0'
    for (let page = 0; page < 10_000; page++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
      if (cursor === '0') break
    }
    redis.disconnect()
  }
}

;(process.env.BENCH_ROLE === 'server' ? serve() : main()).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
