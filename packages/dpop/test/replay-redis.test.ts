// RFC 9449 §11.1 across replicas: two service processes share the real Redis on 127.0.0.1:6379, and a
// proof accepted by one is refused by the other. In CI (CI=true) this must run; elsewhere it is skipped,
// with a message, when no Redis answers.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import {
  createDpopProof,
  generateSigningKey,
  type JwksServer,
  jwkThumbprint,
  signAccessToken,
  startJwksServer,
  toJwks,
} from '@zerotrust/testkit'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const origin = 'https://api.example.com'
const audience = 'api://orders'

async function redisAnswers(): Promise<boolean> {
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  try {
    await probe.connect()
    return (await probe.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    probe.disconnect()
  }
}

const reachable = await redisAnswers()
if (!reachable && process.env.CI !== 'true') {
  console.warn(`skipping the cross-replica DPoP replay tests: no Redis answers at ${redisUrl}`)
}

const root = fileURLToPath(new URL('../../../', import.meta.url))
const replicaScript = fileURLToPath(new URL('./fixtures/replica.ts', import.meta.url))

function startReplica(env: Record<string, string>): Promise<{ port: number; child: ChildProcess }> {
  // The source condition resolves @zerotrust/* to their sources, as vitest does: no build needed.
  const child = spawn(
    process.execPath,
    ['--conditions=@zerotrust/source', '--import', 'tsx', replicaScript],
    {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`replica did not start: ${output}`)), 20_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening (\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ port: Number(match[1]), child })
      }
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`replica exited with ${code}: ${output}`))
    })
  })
}

describe.skipIf(!reachable && process.env.CI !== 'true')(
  'DPoP replay across two processes sharing Redis',
  () => {
    const prefix = `zt:test:dpop:${randomUUID()}:`
    let jwks: JwksServer
    const replicas: { port: number; child: ChildProcess }[] = []
    let issuerKey: Awaited<ReturnType<typeof generateSigningKey>>

    beforeAll(async () => {
      issuerKey = await generateSigningKey('ES256', 'issuer')
      jwks = await startJwksServer(toJwks(issuerKey))
      const env = {
        ISSUER: jwks.issuer,
        AUDIENCE: audience,
        ORIGIN: origin,
        REDIS_URL: redisUrl,
        REPLAY_PREFIX: prefix,
      }
      replicas.push(...(await Promise.all([startReplica(env), startReplica(env)])))
    }, 30_000)
    afterAll(async () => {
      for (const { child } of replicas) child.kill('SIGTERM')
      await jwks?.close()
      const redis = new Redis(redisUrl)
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    })

    it('a proof used at one replica is refused at the other, both ways', async () => {
      const clientKey = await generateSigningKey('ES256')
      const token = await signAccessToken(issuerKey, {
        iss: jwks.issuer,
        aud: audience,
        sub: 'alice',
        client_id: 'web-app',
        cnf: { jkt: await jwkThumbprint(clientKey) },
      })
      const [a, b] = replicas
      if (a === undefined || b === undefined) throw new Error('the replicas did not start')
      const send = async (port: number, proof: string) =>
        fetch(`http://127.0.0.1:${port}/orders`, { headers: { authorization: `DPoP ${token}`, dpop: proof } })

      for (const [first, second] of [
        [a, b],
        [b, a],
      ] as const) {
        const proof = await createDpopProof(clientKey, {
          method: 'GET',
          url: `${origin}/orders`,
          accessToken: token,
        })
        const accepted = await send(first.port, proof)
        expect(accepted.status).toBe(200)
        const replayed = await send(second.port, proof)
        expect(replayed.status).toBe(401)
        expect(await replayed.json()).toMatchObject({ code: 'invalid_dpop_proof', reason: 'replayed' })
      }
    })

    it('many concurrent uses of one proof across both replicas: exactly one is accepted', async () => {
      const clientKey = await generateSigningKey('ES256')
      const token = await signAccessToken(issuerKey, {
        iss: jwks.issuer,
        aud: audience,
        sub: 'bob',
        client_id: 'web-app',
        cnf: { jkt: await jwkThumbprint(clientKey) },
      })
      const proof = await createDpopProof(clientKey, {
        method: 'GET',
        url: `${origin}/orders`,
        accessToken: token,
      })
      const statuses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          fetch(`http://127.0.0.1:${(replicas[i % 2] as { port: number }).port}/orders`, {
            headers: { authorization: `DPoP ${token}`, dpop: proof },
          }).then((response) => response.status),
        ),
      )
      expect(statuses.filter((status) => status === 200)).toHaveLength(1)
      expect(statuses.filter((status) => status === 401)).toHaveLength(39)
    })
  },
)
