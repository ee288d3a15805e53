// Helpers of the Redis-backed tests of every package (`@zerotrust/testkit/redis`, apart from the main
// entry so that only tests that use Redis load ioredis): a reachability probe of the shared Redis,
// unique key prefixes, cleanup, a command counter on MONITOR, and a private redis-server process that
// tests may kill.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import net from 'node:net'
import { Cluster, Redis, type RedisOptions } from 'ioredis'

/** The shared Redis every Redis-backed test uses. */
export const redisPort = 6379
export const redisHost = '127.0.0.1'

/** Whether Redis answers `PING` on `port` within `ms`, over a raw socket (no client retries). */
function pingRedis(port = redisPort, ms = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: redisHost, port })
    let reply = ''
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), ms)
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
    socket.on('error', () => done(false))
  })
}

/**
 * Whether the Redis-backed tests skip: only outside CI, when Redis is not reachable (in CI they run and
 * fail). Prints why when they do.
 */
export async function skipWithoutRedis(): Promise<boolean> {
  if (process.env.CI === 'true') return false
  if (await pingRedis()) return false
  console.warn(`redis is not reachable on ${redisHost}:${redisPort}: skipping the redis-backed tests`)
  return true
}

/** A key prefix no other test run uses. */
export function uniquePrefix(name: string): string {
  return `zt-test:${name}:${process.pid}:${randomUUID()}:`
}

/** A client of the shared Redis that fails fast instead of queueing while disconnected. */
export function connect(
  options: Pick<RedisOptions, 'enableOfflineQueue' | 'lazyConnect' | 'stringNumbers' | 'protocol'> = {},
): Redis {
  return new Redis({ host: redisHost, port: redisPort, maxRetriesPerRequest: 1, ...options })
}

/**
 * The keys under `prefix` (bounded: at most 1000 SCAN pages a node); on a Cluster, those of every
 * primary.
 */
export async function keysUnder(redis: Redis | Cluster, prefix: string): Promise<string[]> {
  const found: string[] = []
  for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
    let cursor = '0'
    let page = 0
    for (; page < 1000; page++) {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000)
      found.push(...keys)
      cursor = next
      if (cursor === '0') break
    }
    if (page === 1000) throw new Error(`could not list the keys under ${prefix}`)
  }
  return found
}

/** Deletes every key under `prefix`; on a Cluster, one key a command (keys of several slots). */
export async function deleteKeys(redis: Redis | Cluster, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix)
  if (redis instanceof Cluster) await Promise.all(keys.map((key) => redis.del(key)))
  else if (keys.length > 0) await redis.del(...keys)
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

/**
 * Counts the commands Redis receives that touch keys under `prefix`, from a MONITOR connection: one
 * command is one round trip of a client. Commands that scripts run inside Redis are not counted.
 */
export interface CommandCounter {
  /** Waits until every command sent before this call has been seen, then returns them (names and keys). */
  settle(): Promise<string[][]>
  /** Forgets the commands seen so far. */
  reset(): void
  close(): Promise<void>
}

export async function countCommands(redis: Redis | Cluster, prefix: string): Promise<CommandCounter> {
  // A Cluster's commands go to its primaries: one MONITOR each.
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis]
  const monitors = await Promise.all(nodes.map((node) => node.monitor()))
  let seen: string[][] = []
  let marks = 0
  const waiting = new Map<string, () => void>()
  for (const monitor of monitors) {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === 'lua') return
      // The marker is ECHO, a command without keys that any node of a Cluster answers.
      const mark = args[0]?.toLowerCase() === 'echo' ? args[1] : undefined
      if (mark !== undefined && waiting.has(mark)) {
        waiting.get(mark)?.()
        return
      }
      if (args.some((arg) => arg.includes(prefix))) seen.push(args)
    })
  }
  return {
    async settle() {
      // MONITOR reports commands in the order Redis ran them: once our marker shows up on every node,
      // everything sent before it has been reported.
      await Promise.all(
        nodes.map(async (node) => {
          const mark = `${prefix}mark:${marks++}`
          const arrived = new Promise<void>((resolve) => waiting.set(mark, resolve))
          await node.echo(mark)
          await arrived
          waiting.delete(mark)
        }),
      )
      return seen.map((args) => [...args])
    },
    reset() {
      seen = []
    },
    async close() {
      for (const monitor of monitors) monitor.disconnect()
    },
  }
}

/** A free TCP port on loopback, chosen by the OS. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, redisHost, () => {
      const address = server.address()
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'))
        else resolve(address.port)
      })
    })
  })
}

/** The redis-server binary, or undefined when it is not installed. */
export function redisServerBinary(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/** A private, throwaway redis-server process on its own port. */
export interface PrivateRedis {
  readonly port: number
  /** Kills the process (SIGKILL: no goodbye to clients) and waits for it to exit. */
  kill(): Promise<void>
  /** Starts it again on the same port and waits until it answers. */
  start(): Promise<void>
}

export async function startPrivateRedis(binary: string): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    const process_ = spawn(
      binary,
      ['--port', String(port), '--bind', redisHost, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    )
    child = process_
    // Bounded: 100 probes, 50 ms apart.
    for (let attempt = 0; attempt < 100; attempt++) {
      if (process_.exitCode !== null) throw new Error(`redis-server exited with ${process_.exitCode}`)
      if (await pingRedis(port, 200)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`redis-server did not answer on port ${port}`)
  }
  const kill = async () => {
    const process_ = child
    child = undefined
    if (process_ === undefined || process_.exitCode !== null || process_.signalCode !== null) return
    const exited = new Promise((resolve) => process_.once('exit', resolve))
    process_.kill('SIGKILL')
    await exited
  }
  await start()
  return { port, kill, start }
}
