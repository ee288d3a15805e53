import { randomBytes, randomUUID } from 'node:crypto'
import type { StoredResponse } from '@zerotrust/core'
import { type CommandCounter, countCommands, deleteKeys, uniquePrefix } from '@zerotrust/testkit/redis'
import type { Cluster, Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { redisIdempotencyStore } from '../src/index.js'
import { encodePending, encodeResponse } from '../src/lib/record.js'
import { type Target, targets } from './targets.js'

const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i)
const response: StoredResponse = {
  status: 201,
  headers: {
    'content-type': 'application/octet-stream',
    'x-note': 'café ✓',
    link: ['</a>; rel="a"', '</b>; rel="b"'],
  },
  body: everyByte,
}

function corrupt(error: unknown) {
  return expect(error).toMatchObject({
    code: 'dependency_unavailable',
    status: 503,
    reason: 'redis_corrupt_record',
  })
}

describe('redisIdempotencyStore: options', () => {
  const client = { set() {}, setBuffer() {}, eval() {}, evalBuffer() {} } as unknown as Redis

  it('refuses a client that is not an ioredis client', () => {
    expect(() => redisIdempotencyStore({ eval() {} } as unknown as Redis)).toThrow(
      new TypeError('redisIdempotencyStore: "client" argument must be an ioredis Redis or Cluster client'),
    )
  })

  it('refuses bad options, naming them', () => {
    expect(() => redisIdempotencyStore(client, { prefix: '' })).toThrow(
      new TypeError('redisIdempotencyStore: "prefix" option must be a non-empty string'),
    )
    expect(() => redisIdempotencyStore(client, { operationTimeout: 0 })).toThrow(
      /^redisIdempotencyStore: "operationTimeout" option must be a positive integer/,
    )
    expect(() => redisIdempotencyStore(client, { lockTtl: 5 } as never)).toThrow(
      new TypeError('redisIdempotencyStore: "lockTtl" option is not recognized'),
    )
    expect(() => redisIdempotencyStore(client, { maxEntriesPerCaller: 0 })).toThrow(
      new TypeError('redisIdempotencyStore: "maxEntriesPerCaller" option must be a positive integer'),
    )
    expect(() => redisIdempotencyStore(client, { maxBytesPerCaller: 1.5 })).toThrow(
      new TypeError('redisIdempotencyStore: "maxBytesPerCaller" option must be a positive integer'),
    )
    expect(() => redisIdempotencyStore(client, { minRetention: -1 })).toThrow(
      /^redisIdempotencyStore: "minRetention" option must be a non-negative integer number of milliseconds/,
    )
  })

  // Regression (issue 12, item 3, second review): a brace in the prefix moves the caller's hash tag, so
  // every caller shared one Cluster slot ('{idem}:'), or a call's keys fell in several (CROSSSLOT, 503).
  it('refuses a prefix with a brace, which would break the per-caller hash tag', () => {
    for (const prefix of ['{idem}:', 'x{}', 'zt:idem}', 'a{b']) {
      expect(() => redisIdempotencyStore(client, { prefix })).toThrow(TypeError)
      expect(() => redisIdempotencyStore(client, { prefix })).toThrow(
        /^redisIdempotencyStore: "prefix" option /,
      )
    }
    expect(() => redisIdempotencyStore(client, { prefix: 'app:idem:' })).not.toThrow()
  })
})

// The same tests on the standalone Redis and on a Redis Cluster (issue 22): every command and script
// touches one key, or keys of one caller's hash tag, so a CROSSSLOT error would fail a test here.
for (const kind of await targets())
  describe.skipIf(kind.skip)(`redisIdempotencyStore on ${kind.name}`, () => {
    const prefix = uniquePrefix('idem')
    let target: Target
    let redis: Redis | Cluster
    let other: Redis | Cluster
    let counter: CommandCounter | undefined

    beforeAll(async () => {
      target = await kind.open()
      redis = target.connect()
      other = target.connect()
      await Promise.all([redis.ping(), other.ping()])
    }, 60_000)

    afterEach(async () => {
      await counter?.close()
      counter = undefined
    })

    afterAll(async () => {
      if (redis !== undefined) {
        await deleteKeys(redis, prefix)
        await deleteKeys(redis, `zt:idem:${prefix}`)
        redis.disconnect()
        other.disconnect()
      }
      await target?.close()
    })

    it('claims a free key, reports it in flight, then replays the completed response exactly', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      const replica = redisIdempotencyStore(other, { prefix })
      const claim = await store.claim('order-1', 'fp-a', 30_000)
      expect(claim).toEqual({ state: 'claimed', owner: expect.stringMatching(/^[\da-f-]{36}$/) })
      if (claim.state !== 'claimed') return
      expect(await replica.claim('order-1', 'fp-b', 30_000)).toEqual({
        state: 'in_flight',
        fingerprint: 'fp-a',
      })
      const lock = await redis.pttl(`${prefix}order-1`)
      expect(lock).toBeGreaterThan(0)
      expect(lock).toBeLessThanOrEqual(30_000)

      expect(await store.complete('order-1', claim.owner, response, 3_600_000)).toBe(true)
      const replay = await replica.claim('order-1', 'fp-c', 30_000)
      expect(replay).toEqual({ state: 'completed', fingerprint: 'fp-a', response })
      if (replay.state !== 'completed') return
      expect(Buffer.from(replay.response.body).equals(Buffer.from(everyByte))).toBe(true)
      // The retention replaced the lock TTL.
      expect(await redis.pttl(`${prefix}order-1`)).toBeGreaterThan(30_000)
    })

    it('keeps fingerprints and bodies of any content and size byte for byte', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      const cases: [string, Uint8Array][] = [
        ['', new Uint8Array()],
        ['zt1c12\n:{"x":1}\n\u0000', new Uint8Array(Buffer.from('zt1p\n\n\r\n'))],
        ['指纹 🔑', new Uint8Array(randomBytes(1024 * 1024))],
      ]
      for (const [i, [fingerprint, body]] of cases.entries()) {
        const claim = await store.claim(`bytes-${i}`, fingerprint, 30_000)
        if (claim.state !== 'claimed') throw new Error('expected a claim')
        const stored = { status: 200, headers: {}, body }
        expect(await store.complete(`bytes-${i}`, claim.owner, stored, 60_000)).toBe(true)
        const replay = await store.claim(`bytes-${i}`, 'other', 30_000)
        if (replay.state !== 'completed') throw new Error('expected a completed record')
        expect(replay.fingerprint).toBe(fingerprint)
        expect(replay.response.status).toBe(200)
        expect(replay.response.body).toBeInstanceOf(Uint8Array)
        // Buffer.equals: a deep equality of a 1 MiB array element by element is needlessly slow.
        expect(Buffer.from(replay.response.body).equals(body)).toBe(true)
      }
    })

    it('gives exactly one of 200 concurrent claims of one key, over two connections', async () => {
      const stores = [redisIdempotencyStore(redis, { prefix }), redisIdempotencyStore(other, { prefix })]
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => stores[i % 2]?.claim('race', `fp-${i}`, 30_000)),
      )
      const claimed = results.flatMap((result, i) => (result?.state === 'claimed' ? [i] : []))
      expect(claimed).toHaveLength(1)
      const winner = `fp-${claimed[0]}`
      const others = results.filter((result) => result?.state === 'in_flight')
      expect(others).toHaveLength(199)
      expect(others.every((result) => result?.state === 'in_flight' && result.fingerprint === winner)).toBe(
        true,
      )
    })

    it('lets a new claim in after a release, with another owner', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      const first = await store.claim('released', 'fp', 30_000)
      if (first.state !== 'claimed') throw new Error('expected a claim')
      expect(await store.release('released', first.owner)).toBe(true)
      expect(await redis.exists(`${prefix}released`)).toBe(0)
      const second = await store.claim('released', 'fp', 30_000)
      expect(second.state).toBe('claimed')
      expect(second.state === 'claimed' && second.owner).not.toBe(first.owner)
    })

    it('never lets a holder whose lock expired complete or release over the next owner', async () => {
      // Regression guard for issue #7: "a holder whose lock expired can never overwrite the new owner".
      const store = redisIdempotencyStore(redis, { prefix })
      const stale = await store.claim('expired', 'fp-old', 100)
      if (stale.state !== 'claimed') throw new Error('expected a claim')
      await new Promise((resolve) => setTimeout(resolve, 250))
      const fresh = await store.claim('expired', 'fp-new', 30_000)
      if (fresh.state !== 'claimed') throw new Error('expected the expired lock to be free')

      expect(await store.complete('expired', stale.owner, response, 60_000)).toBe(false)
      expect(await store.release('expired', stale.owner)).toBe(false)
      expect(await store.claim('expired', 'fp-x', 30_000)).toEqual({
        state: 'in_flight',
        fingerprint: 'fp-new',
      })

      expect(await store.complete('expired', fresh.owner, response, 60_000)).toBe(true)
      // Completed: neither owner can release or complete it again.
      expect(await store.release('expired', fresh.owner)).toBe(false)
      expect(await store.complete('expired', fresh.owner, { ...response, status: 500 }, 60_000)).toBe(false)
      expect(await store.claim('expired', 'fp-x', 30_000)).toEqual({
        state: 'completed',
        fingerprint: 'fp-new',
        response,
      })
    })

    it('extends only the pending claim its owner holds, in one round trip, never a completed key', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      const replica = redisIdempotencyStore(other, { prefix })
      const claim = await store.claim('renewed', 'fp', 1000)
      if (claim.state !== 'claimed') throw new Error('expected a claim')
      counter = await countCommands(redis, prefix)
      // Any replica may renew for the owner: the owner token, not the connection, holds the key.
      expect(await replica.extend('renewed', claim.owner, 60_000)).toBe(true)
      expect(await store.extend('renewed', claim.owner, 30_000)).toBe(true)
      // One round trip per renewal.
      expect((await counter.settle()).map((args) => args[0]?.toLowerCase())).toEqual(['eval', 'eval'])
      // The last renewal set the expiry: past the claim's 1 s, within its own 30 s.
      const lock = await redis.pttl(`${prefix}renewed`)
      expect(lock).toBeGreaterThan(1000)
      expect(lock).toBeLessThanOrEqual(30_000)

      for (const owner of [randomUUID(), 'not-an-owner', `${claim.owner}\n`, claim.owner.slice(0, 35)]) {
        expect(await store.extend('renewed', owner, 120_000)).toBe(false)
      }
      expect(await redis.pttl(`${prefix}renewed`)).toBeLessThanOrEqual(30_000)
      expect(await store.extend('never-extended', claim.owner, 60_000)).toBe(false)
      expect(await redis.exists(`${prefix}never-extended`)).toBe(0)
      // The pending record itself is unchanged: the claim still completes with its fingerprint.
      expect(await store.complete('renewed', claim.owner, response, 3_600_000)).toBe(true)
      // Completed: the retention stays; not even the owner that completed it can shorten or prolong it.
      expect(await store.extend('renewed', claim.owner, 1000)).toBe(false)
      expect(await redis.pttl(`${prefix}renewed`)).toBeGreaterThan(60_000)
      expect(await store.claim('renewed', 'fp', 1000)).toEqual({
        state: 'completed',
        fingerprint: 'fp',
        response,
      })
    })

    it("never lets a holder whose lock expired extend the next owner's claim", async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      const stale = await store.claim('lapsed', 'fp-old', 100)
      if (stale.state !== 'claimed') throw new Error('expected a claim')
      await new Promise((resolve) => setTimeout(resolve, 250))
      // Lapsed and free: nothing to extend, and nothing is created.
      expect(await store.extend('lapsed', stale.owner, 60_000)).toBe(false)
      expect(await redis.exists(`${prefix}lapsed`)).toBe(0)
      const fresh = await store.claim('lapsed', 'fp-new', 2000)
      if (fresh.state !== 'claimed') throw new Error('expected the expired lock to be free')
      expect(await store.extend('lapsed', stale.owner, 60_000)).toBe(false)
      expect(await redis.pttl(`${prefix}lapsed`)).toBeLessThanOrEqual(2000)
      expect(await store.claim('lapsed', 'fp-x', 30_000)).toEqual({
        state: 'in_flight',
        fingerprint: 'fp-new',
      })
    })

    it('does nothing for an owner that does not hold the key, or a key that is not held', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      const claim = await store.claim('held', 'fp', 30_000)
      if (claim.state !== 'claimed') throw new Error('expected a claim')
      for (const owner of [randomUUID(), 'not-an-owner', `${claim.owner}\n`, claim.owner.slice(0, 35)]) {
        expect(await store.complete('held', owner, response, 60_000)).toBe(false)
        expect(await store.release('held', owner)).toBe(false)
      }
      // An owner of one key holds no other key.
      expect(await store.complete('never-claimed', claim.owner, response, 60_000)).toBe(false)
      expect(await store.release('never-claimed', claim.owner)).toBe(false)
      expect(await redis.exists(`${prefix}never-claimed`)).toBe(0)
      expect(await store.claim('held', 'fp2', 30_000)).toEqual({ state: 'in_flight', fingerprint: 'fp' })
    })

    it('works whatever reply settings the client has (RESP2, RESP3, resp3 mapping, string numbers)', async () => {
      const clients = [
        target.connect({ protocol: 2 }),
        target.connect({ stringNumbers: true }),
        target.connect({ replyMapping: 'resp3' }),
      ]
      try {
        for (const [i, client] of clients.entries()) {
          const store = redisIdempotencyStore(client, { prefix })
          const claim = await store.claim(`settings-${i}`, 'fp', 30_000)
          if (claim.state !== 'claimed') throw new Error('expected a claim')
          expect(await store.complete(`settings-${i}`, claim.owner, response, 60_000)).toBe(true)
          expect(await store.claim(`settings-${i}`, 'fp', 30_000)).toEqual({
            state: 'completed',
            fingerprint: 'fp',
            response,
          })
          const refusing = redisIdempotencyStore(client, { prefix, maxEntriesPerCaller: 1 })
          const tagged = await refusing.claim(`settings-${i}-t`, 'fp', 30_000, { caller: `c-${i}` })
          if (tagged.state !== 'claimed') throw new Error('expected a claim')
          expect(await refusing.claim(`settings-${i}-u`, 'fp', 30_000, { caller: `c-${i}` })).toMatchObject({
            state: 'refused',
            retryAfterMs: expect.any(Number),
          })
          expect(await refusing.complete(`settings-${i}-t`, tagged.owner, response, 60_000)).toBe(true)
          expect(await refusing.claim(`settings-${i}-t`, 'fp', 30_000, { caller: `c-${i}` })).toEqual({
            state: 'completed',
            fingerprint: 'fp',
            response,
          })
          const second = await store.claim(`settings-${i}-b`, 'fp', 30_000)
          if (second.state !== 'claimed') throw new Error('expected a claim')
          expect(await store.extend(`settings-${i}-b`, second.owner, 30_000)).toBe(true)
          expect(await store.release(`settings-${i}-b`, second.owner)).toBe(true)
          expect(await store.extend(`settings-${i}-b`, second.owner, 30_000)).toBe(false)
          expect(await store.release(`settings-${i}-b`, second.owner)).toBe(false)
        }
      } finally {
        for (const client of clients) client.disconnect()
      }
    })

    it('uses the zt:idem: prefix by default', async () => {
      const store = redisIdempotencyStore(redis)
      expect((await store.claim(`${prefix}default`, 'fp', 30_000)).state).toBe('claimed')
      expect(await redis.exists(`zt:idem:${prefix}default`)).toBe(1)
    })

    it('costs 2 round trips for a first request (claim, complete) and 1 for a replay', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      counter = await countCommands(redis, prefix)
      // The first call of this store: nothing is loaded lazily.
      const claim = await store.claim('trips', 'fp', 30_000)
      if (claim.state !== 'claimed') throw new Error('expected a claim')
      await store.complete('trips', claim.owner, response, 60_000)
      const first = await counter.settle()
      expect(first.map((args) => args[0]?.toLowerCase())).toEqual(['set', 'eval'])

      counter.reset()
      expect((await store.claim('trips', 'fp', 30_000)).state).toBe('completed')
      expect((await counter.settle()).map((args) => args[0]?.toLowerCase())).toEqual(['set'])

      counter.reset()
      const other = await store.claim('trips-2', 'fp', 30_000)
      if (other.state !== 'claimed') throw new Error('expected a claim')
      expect((await store.claim('trips-2', 'fp', 30_000)).state).toBe('in_flight')
      await store.release('trips-2', other.owner)
      expect((await counter.settle()).map((args) => args[0]?.toLowerCase())).toEqual(['set', 'set', 'eval'])
    })

    it('rejects a value it did not write as a store failure, and leaves it alone', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      const good = Buffer.concat([
        Buffer.from('zt1c2\nfp'),
        encodeResponse({
          status: 200,
          headers: { 'content-type': 'text/plain' },
          body: Buffer.from('hello'),
        }),
      ])
      const values: Buffer[] = [
        Buffer.from('1'),
        Buffer.from('garbage that is long enough'),
        Buffer.from('{"status":200,"headers":{},"body":"aGVsbG8="}'),
        Buffer.from('zt1pnot-a-uuid\nfp'),
        Buffer.from(`zt1p${randomUUID()}`),
        encodePending(randomUUID(), 'fp').subarray(0, 20),
        Buffer.from('zt1c'),
        Buffer.from('zt1c99\nfp'),
        Buffer.from('zt1c-1\nfp'),
        Buffer.from('zt1c02\nfp2\n[]'),
        Buffer.from('zt1c2\nfp9\n[200,{}]'),
        Buffer.from('zt1c2\nfp11\n[999,{},0]'),
        Buffer.from('zt1c2\nfp16\n[200,{"a":1},0]'),
        Buffer.from('zt1c2\nfp13\n[200,{},1.5]x'),
        Buffer.from('zt1c2\nfp11\n[200,{},0'),
        Buffer.concat([Buffer.from('zt1c2\n'), Buffer.from([0xff, 0xfe]), encodeResponse(response)]),
        // A stored response cut short, or with bytes appended: its length no longer matches.
        good.subarray(0, good.length - 1),
        Buffer.concat([good, Buffer.from('!')]),
      ]
      for (const [i, value] of values.entries()) {
        await redis.set(`${prefix}corrupt-${i}`, value)
        const error = await store.claim(`corrupt-${i}`, 'fp', 30_000).catch((e: unknown) => e)
        corrupt(error)
        expect(await redis.getBuffer(`${prefix}corrupt-${i}`)).toEqual(value)
        // A foreign value is nobody's pending claim: complete and release leave it alone too.
        expect(await store.release(`corrupt-${i}`, randomUUID())).toBe(false)
      }
      // The intact record decodes, so the cases above fail for the reason they name.
      await redis.set(`${prefix}intact`, good)
      expect(await store.claim('intact', 'fp', 30_000)).toMatchObject({
        state: 'completed',
        fingerprint: 'fp',
        response: { status: 200, headers: { 'content-type': 'text/plain' } },
      })
    })

    it('rejects with dependency_unavailable when the key holds another Redis type', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      await redis.hset(`${prefix}hash`, 'field', 'value')
      const failure = { code: 'dependency_unavailable', status: 503, reason: 'redis_error' }
      await expect(store.claim('hash', 'fp', 30_000)).rejects.toMatchObject(failure)
      await expect(store.release('hash', randomUUID())).rejects.toMatchObject(failure)
      await expect(store.complete('hash', randomUUID(), response, 60_000)).rejects.toMatchObject(failure)
      await expect(store.extend('hash', randomUUID(), 60_000)).rejects.toMatchObject(failure)
      expect(await redis.type(`${prefix}hash`)).toBe('hash')
    })

    describe('per-caller share (issue 12, item 3: one caller could fill the store for everyone)', () => {
      const alice = { caller: 'caller-alice' }
      const bob = { caller: 'caller-bob' }
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
      // Redis Cluster's rule: the slot is that of the text between the first "{" and the next "}".
      const hashTag = (key: string) => {
        const open = key.indexOf('{')
        const close = key.indexOf('}', open + 1)
        return open === -1 || close <= open + 1 ? key : key.slice(open + 1, close)
      }

      it("refuses only the caller at its share of keys, in one round trip, with its first entry's time", async () => {
        const quota = uniquePrefix('quota')
        const store = redisIdempotencyStore(redis, { prefix: quota, maxEntriesPerCaller: 3 })
        const replica = redisIdempotencyStore(other, { prefix: quota, maxEntriesPerCaller: 3 })
        try {
          const first = await store.claim('a1', 'fp', 30_000, alice)
          if (first.state !== 'claimed') throw new Error('expected a claim')
          expect(await store.complete('a1', first.owner, response, 3_600_000)).toBe(true)
          expect((await replica.claim('a2', 'fp', 20_000, alice)).state).toBe('claimed')
          expect((await store.claim('a3', 'fp', 30_000, alice)).state).toBe('claimed')
          counter = await countCommands(redis, quota)
          // Every replica counts the same share. a1 may go in 10 minutes, a2's lock lapses in 20 s.
          const refused = await store.claim('a4', 'fp', 30_000, alice)
          expect(refused).toEqual({
            state: 'refused',
            reason: 'caller_quota',
            retryAfterMs: expect.any(Number),
          })
          if (refused.state !== 'refused') return
          expect(refused.retryAfterMs).toBeGreaterThan(15_000)
          expect(refused.retryAfterMs).toBeLessThanOrEqual(20_000)
          const commands = await counter.settle()
          expect(commands.map((args) => args[0]?.toLowerCase())).toEqual(['eval'])
          // All keys of the call hash to one Cluster slot.
          const keys = commands[0]?.slice(3, 6) ?? []
          expect(keys).toHaveLength(3)
          expect(new Set(keys.map(hashTag)).size).toBe(1)
          expect(await redis.exists(`${quota}a4`)).toBe(0)

          // Another caller, and claims that name none, are not touched.
          expect((await replica.claim('b1', 'fp', 30_000, bob)).state).toBe('claimed')
          expect((await store.claim('n1', 'fp', 30_000)).state).toBe('claimed')
          // Over its share, the caller still gets its replay and its conflict: a retry is never refused.
          expect(await replica.claim('a1', 'fp', 30_000, alice)).toEqual({
            state: 'completed',
            fingerprint: 'fp',
            response,
          })
          expect((await replica.claim('a2', 'fp', 30_000, alice)).state).toBe('in_flight')
        } finally {
          await deleteKeys(redis, quota)
        }
      })

      it("makes room from the caller's own responses past minRetention, never another's or a claim's", async () => {
        const quota = uniquePrefix('quota')
        const store = redisIdempotencyStore(redis, {
          prefix: quota,
          maxEntriesPerCaller: 2,
          minRetention: 150,
        })
        try {
          const complete = async (key: string, caller: { caller: string }) => {
            const claim = await store.claim(key, key, 30_000, caller)
            if (claim.state !== 'claimed') throw new Error(`expected a claim of ${key}`)
            expect(await store.complete(key, claim.owner, response, 3_600_000)).toBe(true)
          }
          await complete('b1', bob)
          await complete('a1', alice)
          expect((await store.claim('a2', 'a2', 30_000, alice)).state).toBe('claimed')
          // a1 is younger than minRetention: nothing of alice's may go yet.
          expect((await store.claim('a3', 'a3', 30_000, alice)).state).toBe('refused')
          await sleep(200)
          // Past it, a1 goes for a3; bob's older response and alice's claim a2 stay.
          expect((await store.claim('a3', 'a3', 30_000, alice)).state).toBe('claimed')
          expect((await store.claim('a1', 'a1', 30_000, bob)).state).toBe('claimed')
          expect((await store.claim('b1', 'b1', 30_000, bob)).state).toBe('completed')
          expect((await store.claim('a2', 'a2', 30_000, alice)).state).toBe('in_flight')
          expect((await store.claim('a1', 'a1', 30_000, alice)).state).toBe('refused')
        } finally {
          await deleteKeys(redis, quota)
        }
      })

      it('counts stored bytes: a response past the share is refused with 429, and so are claims at it', async () => {
        const quota = uniquePrefix('quota')
        // The shared response counts 256 bytes of body and 78 of header names and values: 334.
        const store = redisIdempotencyStore(redis, { prefix: quota, maxBytesPerCaller: 400 })
        try {
          const first = await store.claim('a1', 'fp', 30_000, alice)
          const second = await store.claim('a2', 'fp', 30_000, alice)
          if (first.state !== 'claimed' || second.state !== 'claimed') throw new Error('expected claims')
          expect(await store.complete('a1', first.owner, response, 3_600_000)).toBe(true)
          const refused = await store
            .complete('a2', second.owner, response, 3_600_000)
            .catch((e: unknown) => e)
          expect(refused).toMatchObject({ code: 'rate_limited', status: 429, reason: 'caller_quota' })
          expect((refused as { retryAfter: number }).retryAfter).toBeGreaterThan(500)
          // Not stored: the claim is still pending, and the first response is intact.
          expect(await store.claim('a2', 'fp', 30_000, alice)).toEqual({
            state: 'in_flight',
            fingerprint: 'fp',
          })
          expect((await store.claim('a1', 'fp', 30_000, alice)).state).toBe('completed')
          // A response larger than the whole share is refused before anything is sent.
          const big = { ...response, body: new Uint8Array(500) }
          await expect(store.complete('a2', second.owner, big, 3_600_000)).rejects.toMatchObject({
            code: 'rate_limited',
            reason: 'caller_quota',
          })

          const exact = redisIdempotencyStore(redis, { prefix: quota, maxBytesPerCaller: 334 })
          const only = await exact.claim('e1', 'fp', 30_000, bob)
          if (only.state !== 'claimed') throw new Error('expected a claim')
          expect(await exact.complete('e1', only.owner, response, 3_600_000)).toBe(true)
          expect(await exact.claim('e2', 'fp', 30_000, bob)).toMatchObject({
            state: 'refused',
            reason: 'caller_quota',
          })
        } finally {
          await deleteKeys(redis, quota)
        }
      })

      // Regression (issue 12, item 3, second review): the script read the caller's first 64 entries only,
      // and a claim in the way set the wait though it frees no bytes.
      describe('a caller short of bytes behind many claims', () => {
        const claimMany = async (store: ReturnType<typeof redisIdempotencyStore>, n: number, ttl: number) => {
          const claims = await Promise.all(
            Array.from({ length: n }, (_, i) => store.claim(`held-${i}`, 'fp', ttl, alice)),
          )
          expect(claims.every((claim) => claim.state === 'claimed')).toBe(true)
        }
        const completeOne = async (store: ReturnType<typeof redisIdempotencyStore>, key: string) => {
          const claim = await store.claim(key, 'fp', 30_000, alice)
          if (claim.state !== 'claimed') throw new Error(`expected a claim of ${key}`)
          expect(await store.complete(key, claim.owner, response, 3_600_000)).toBe(true)
        }

        it('drops every lapsed claim it needs, past the first 64, to reach a response that may go', async () => {
          const quota = uniquePrefix('quota')
          // The shared response counts 334 bytes: one fills the share.
          const store = redisIdempotencyStore(redis, {
            prefix: quota,
            maxBytesPerCaller: 334,
            minRetention: 150,
          })
          try {
            // 70 claims that lapse before the response may go (its score is 150 ms after it completes).
            await claimMany(store, 70, 100)
            await completeOne(store, 'stored')
            await sleep(300)
            expect((await store.claim('next', 'fp', 30_000, alice)).state).toBe('claimed')
            expect((await store.claim('stored', 'fp', 30_000, alice)).state).toBe('claimed')
          } finally {
            await deleteKeys(redis, quota)
          }
        })

        it("answers the wait of the caller's first response, not of a claim, which frees no bytes", async () => {
          // 70 claims, then a response that fills the share: it may go in 10 minutes, the claims ahead of
          // it lapse in 30 s. Past the 128 entries a call reads, "minRetention" bounds the wait.
          for (const claims of [70, 140]) {
            const quota = uniquePrefix('quota')
            const store = redisIdempotencyStore(redis, { prefix: quota, maxBytesPerCaller: 334 })
            try {
              await claimMany(store, claims, 30_000)
              await completeOne(store, 'stored')
              const refused = await store.claim('next', 'fp', 30_000, alice)
              expect(refused).toMatchObject({ state: 'refused', reason: 'caller_quota' })
              if (refused.state !== 'refused') return
              expect(refused.retryAfterMs).toBeGreaterThan(590_000)
              expect(refused.retryAfterMs).toBeLessThanOrEqual(600_000)
            } finally {
              await deleteKeys(redis, quota)
            }
          }
        })
      })

      it('keeps every owner check for claims that name a caller', async () => {
        const quota = uniquePrefix('quota')
        const store = redisIdempotencyStore(redis, { prefix: quota })
        try {
          const stale = await store.claim('k', 'fp-old', 100, alice)
          if (stale.state !== 'claimed') throw new Error('expected a claim')
          await sleep(250)
          const fresh = await store.claim('k', 'fp-new', 30_000, alice)
          if (fresh.state !== 'claimed') throw new Error('expected the lapsed lock to be free')
          expect(await store.complete('k', stale.owner, response, 60_000)).toBe(false)
          expect(await store.release('k', stale.owner)).toBe(false)
          expect(await store.extend('k', stale.owner, 60_000)).toBe(false)
          const [uuid, tag] = fresh.owner.split('.') as [string, string]
          const forged = [`${randomUUID()}.${tag}`, `${uuid}.${'A'.repeat(22)}`, uuid, `${fresh.owner}x`]
          for (const owner of forged) {
            expect(await store.complete('k', owner, response, 60_000)).toBe(false)
            expect(await store.release('k', owner)).toBe(false)
            expect(await store.extend('k', owner, 60_000)).toBe(false)
          }
          expect(await store.extend('k', fresh.owner, 60_000)).toBe(true)
          expect(await store.release('k', fresh.owner)).toBe(true)
          expect((await store.claim('k', 'fp', 30_000, alice)).state).toBe('claimed')
          await expect(store.claim('x', 'fp', 1000, { caller: '' })).rejects.toThrow(TypeError)
        } finally {
          await deleteKeys(redis, quota)
        }
      })
    })

    it('rejects bad arguments with a TypeError before sending anything', async () => {
      const store = redisIdempotencyStore(redis, { prefix })
      counter = await countCommands(redis, prefix)
      const owner = randomUUID()
      await expect(store.claim('', 'fp', 1000)).rejects.toThrow(
        new TypeError('"key" must be a non-empty string'),
      )
      await expect(store.claim('k', 42 as never, 1000)).rejects.toThrow(
        new TypeError('"fingerprint" must be a well-formed string'),
      )
      await expect(store.claim('k', 'lone \ud800 surrogate', 1000)).rejects.toThrow(
        new TypeError('"fingerprint" must be a well-formed string'),
      )
      await expect(store.claim('k', 'fp', 0)).rejects.toThrow(
        new TypeError('"lockTtlMs" must be a positive number of milliseconds'),
      )
      await expect(store.complete('k', owner, response, -1)).rejects.toThrow(
        new TypeError('"retentionMs" must be a positive number of milliseconds'),
      )
      await expect(store.complete('k', owner, { ...response, status: 99 }, 1000)).rejects.toThrow(
        new TypeError('"response.status" must be an integer from 100 to 599'),
      )
      await expect(
        store.complete('k', owner, { ...response, headers: { a: 1 } as never }, 1000),
      ).rejects.toThrow(
        new TypeError('"response.headers" must map header names to a string or an array of strings'),
      )
      await expect(store.complete('k', owner, { ...response, body: 'text' as never }, 1000)).rejects.toThrow(
        new TypeError('"response.body" must be a Uint8Array'),
      )
      await expect(store.release('', owner)).rejects.toThrow(TypeError)
      await expect(store.extend('', owner, 1000)).rejects.toThrow(TypeError)
      await expect(store.extend('k', owner, Number.NaN)).rejects.toThrow(
        new TypeError('"lockTtlMs" must be a positive number of milliseconds'),
      )
      expect(await counter.settle()).toEqual([])
    })
  })
