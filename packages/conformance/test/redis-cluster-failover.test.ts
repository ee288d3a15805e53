// DPoP proofs and idempotent POSTs on a Redis Cluster while a primary dies (issue 22): two replicas of a
// service (child processes) with ioredis Cluster clients, 200 concurrent keyed POSTs, then the primary
// that holds the caller's idempotency keys killed while traffic flows. No handler runs twice for one
// key, no replayed proof is accepted, requests during the election get 503 with Retry-After (never
// another 5xx, never a pass-through), and traffic recovers by itself once the replica is promoted.
import {
  createDpopProof,
  generateSigningKey,
  jwkThumbprint,
  type SigningKey,
  testIssuer,
} from '@zerotrust/testkit'
import { keysUnder } from '@zerotrust/testkit/redis'
import {
  type RedisCluster,
  skipWithoutRedisBinaries,
  startRedisCluster,
} from '@zerotrust/testkit/redis-cluster'
import type { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Replica, startReplica } from './idempotency-replicas.js'

const issuer = 'https://idp.example.com/'
const audience = 'api://payments'
const url = 'https://api.example.com/payments'
const skip = skipWithoutRedisBinaries('the redis cluster failover test')

interface Answer {
  readonly key: string
  readonly status: number
  readonly retryAfter: string | null
  readonly replayed: string | null
}

describe.skipIf(skip)('DPoP and idempotency on a Redis Cluster while a primary fails over (issue 22)', () => {
  let cluster: RedisCluster
  let admin: Cluster
  let a: Replica | undefined
  let b: Replica | undefined
  let key: SigningKey
  let token: string

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeout: 1000 })
    admin = cluster.client({ redisOptions: { maxRetriesPerRequest: 1 } })
    const idp = await testIssuer({ issuer, audience })
    key = await generateSigningKey('ES256')
    token = await idp.sign({ sub: 'alice', cnf: { jkt: await jwkThumbprint(key) } })
    const env = {
      REDIS_CLUSTER_PORTS: cluster.startupNodes.map((node) => node.port).join(','),
      ISSUER: issuer,
      AUDIENCE: audience,
      JWKS: JSON.stringify(idp.jwks),
    }
    const script = 'test/redis-cluster-failover-server.ts'
    ;[a, b] = await Promise.all([startReplica(env, script), startReplica(env, script)])
  }, 90_000)

  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()])
    admin?.disconnect()
    await cluster?.stop()
  })

  /** One POST with a fresh proof; answers the proof too, to replay it. */
  async function post(replica: Replica | undefined, idempotencyKey: string, proof?: string) {
    const sent = proof ?? (await createDpopProof(key, { method: 'POST', url, accessToken: token }))
    const res = await fetch(`${replica?.url}/payments`, {
      method: 'POST',
      headers: {
        authorization: `DPoP ${token}`,
        dpop: sent,
        'content-type': 'application/json',
        'idempotency-key': `"${idempotencyKey}"`,
      },
      body: JSON.stringify({ amount: 1 }),
      signal: AbortSignal.timeout(10_000),
    })
    await res.arrayBuffer()
    const answer: Answer = {
      key: idempotencyKey,
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      replayed: res.headers.get('idempotent-replayed'),
    }
    return { answer, proof: sent }
  }

  /** Every key's runs over both replicas. */
  async function runs(): Promise<Map<string, number>> {
    const total = new Map<string, number>()
    for (const replica of [a, b]) {
      const counts = (await (await fetch(`${replica?.url}/runs`)).json()) as Record<string, number>
      for (const [k, n] of Object.entries(counts)) total.set(k, (total.get(k) ?? 0) + n)
    }
    return total
  }

  /** A 503 carries Retry-After; nothing else of 5xx may come. */
  function expectClosedFailure(answer: Answer): void {
    if (answer.status < 500) return
    expect({ key: answer.key, status: answer.status, retryAfter: answer.retryAfter }).toEqual({
      key: answer.key,
      status: 503,
      retryAfter: expect.stringMatching(/^[1-9]\d*$/),
    })
  }

  it('runs no handler twice, accepts no replayed proof, answers 503 with Retry-After, and recovers', async () => {
    // 200 concurrent keyed POSTs over both replicas, then each proof replayed on the other one.
    const first = await Promise.all(
      Array.from({ length: 200 }, (_, i) => post(i % 2 === 0 ? a : b, `warm-${i}`)),
    )
    expect(first.map(({ answer }) => answer.status)).toEqual(Array(200).fill(201))
    const replays = await Promise.all(
      first.map(({ proof }, i) => post(i % 2 === 0 ? b : a, `warm-${i}`, proof)),
    )
    expect(replays.map(({ answer }) => answer.status)).toEqual(Array(200).fill(401))

    // The primary that holds alice's idempotency keys (all under her hash tag) dies now.
    const record = (await keysUnder(admin, 'zt:idem:')).find((k) => k.includes('}:'))
    if (record === undefined) throw new Error('no idempotency record')
    const victim = await cluster.primaryOf(record)

    const answers: Answer[] = []
    const replayed: Answer[] = []
    let killed = false
    let failed = 0
    let streak = 0
    const started = Date.now()
    // Waves of 20 concurrent POSTs with new keys, each proof replayed at once on the other replica, until
    // 5 waves in a row pass after the failure; bounded by 200 waves and 60 s.
    for (let wave = 0; wave < 200 && Date.now() - started < 60_000; wave++) {
      if (wave === 2) {
        await victim.kill()
        killed = true
      }
      const batch = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const sent = await post(i % 2 === 0 ? a : b, `flow-${wave}-${i}`)
          const again = await post(i % 2 === 0 ? b : a, `flow-${wave}-${i}`, sent.proof)
          return [sent.answer, again.answer] as const
        }),
      )
      for (const [answer, replay] of batch) {
        answers.push(answer)
        replayed.push(replay)
      }
      const waveFailed = batch.filter(([answer]) => answer.status !== 201).length
      failed += killed ? waveFailed : 0
      streak = killed && failed > 0 && waveFailed === 0 ? streak + 1 : 0
      if (streak === 5) break
    }
    // The failure was seen, and traffic came back without anyone restarting anything.
    expect(failed).toBeGreaterThan(0)
    expect(streak).toBe(5)

    for (const answer of answers) {
      expect([201, 503]).toContain(answer.status)
      expectClosedFailure(answer)
    }
    // A proof is accepted at most once: after a 201 its replay is refused (401), or answered 503 while the
    // store cannot say, never let through. A proof whose first use got a 503 was never accepted; its
    // second use may be its first acceptance.
    for (const [i, replay] of replayed.entries()) {
      expectClosedFailure(replay)
      if (answers[i]?.status === 201) expect([401, 503]).toContain(replay.status)
      else expect([201, 401, 503]).toContain(replay.status)
    }

    // Every key answered 503 is retried with a fresh proof: it runs now, or its claim still holds it
    // (409) until its lock lapses; never a second run.
    const retried = await Promise.all(
      answers.filter((answer) => answer.status === 503).map(({ key: k }, i) => post(i % 2 === 0 ? a : b, k)),
    )
    for (const { answer } of retried) expect([201, 409]).toContain(answer.status)

    const counts = await runs()
    const twice = [...counts].filter(([, n]) => n > 1)
    expect(twice).toEqual([])
    // Each key answered 201 first time ran exactly once (a replay would be marked, and runs nothing).
    for (const answer of [...first.map(({ answer }) => answer), ...answers]) {
      if (answer.status === 201 && answer.replayed === null) expect(counts.get(`"${answer.key}"`)).toBe(1)
    }
  }, 120_000)
})
