// Where the fleet keeps what must outlive one request: DPoP proof ids (edge), per-user budgets (edge)
// and stored answers of idempotent writes (billing). Redis when it answers on 127.0.0.1:6379, so that
// replicas would share them; the in-memory stores of one process otherwise. The demo says which.
import { randomUUID } from 'node:crypto'
import net from 'node:net'
import type { IdempotencyStore, ReplayStore } from '@zerotrust/core'
import { memoryIdempotencyStore } from '@zerotrust/idempotency'
import { redisIdempotencyStore, redisReplayStore } from '@zerotrust/redis'
import { Redis } from 'ioredis'

export const redisHost = '127.0.0.1'
export const redisPort = 6379

/** The stores of one run of the fleet. */
export interface Stores {
  /** `redis` when Redis answered, `memory` otherwise. */
  readonly kind: 'redis' | 'memory'
  /** The ioredis client, for `rateLimit({ redis })`; absent on memory. */
  readonly redis: Redis | undefined
  /** Prefix of every key this run writes, so runs never share budgets or stored answers. */
  readonly prefix: string
  /** The DPoP replay store: `undefined` keeps dpop()'s own memory store. */
  readonly replay: ReplayStore | undefined
  readonly idempotency: IdempotencyStore
  /** Deletes this run's keys and disconnects. */
  close(): Promise<void>
}

/** Whether Redis answers `PING` within `ms`, over a raw socket (no client retries, no queue). */
function ping(ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: redisHost, port: redisPort })
    let reply = ''
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), ms)
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1')
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
    socket.on('error', () => done(false))
  })
}

/**
 * Redis-backed stores when Redis answers on 127.0.0.1:6379 (unless `memory` is asked for), in-memory ones
 * otherwise.
 */
export async function openStores(options: { readonly memory?: boolean } = {}): Promise<Stores> {
  const prefix = `zt-demo:${process.pid}:${randomUUID().slice(0, 8)}:`
  if (options.memory === true || !(await ping(500))) {
    return {
      kind: 'memory',
      redis: undefined,
      prefix,
      replay: undefined,
      idempotency: memoryIdempotencyStore(),
      close: async () => {},
    }
  }
  // Fail fast rather than queue while disconnected: every layer answers 503 on a store failure.
  const redis = new Redis({ host: redisHost, port: redisPort, maxRetriesPerRequest: 1 })
  return {
    kind: 'redis',
    redis,
    prefix,
    replay: redisReplayStore(redis, { prefix: `${prefix}dpop:` }),
    idempotency: redisIdempotencyStore(redis, { prefix: `${prefix}idem:` }),
    async close() {
      // SCAN in bounded pages: at most 100 pages of 1,000 keys.
      let cursor = '0'
      for (let page = 0; page < 100; page++) {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        if (keys.length > 0) await redis.del(...keys)
        cursor = next
        if (cursor === '0') break
      }
      await redis.quit()
    },
  }
}
