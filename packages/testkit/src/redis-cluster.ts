// A throwaway Redis Cluster on loopback for the tests of the shared stores (`@zerotrust/testkit/redis-cluster`):
// six `redis-server --cluster-enabled yes` processes (three primaries, three replicas) on OS-picked ports
// in a temporary directory, joined by `redis-cli --cluster create`, and a primary, a replica and a
// sentinel for the Sentinel tests. Every wait is bounded; `stop()` kills the processes and removes the
// directory.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'

/** What `new Cluster(nodes, options)` takes. */
type ClusterClientOptions = ConstructorParameters<typeof Cluster>[1]

const host = '127.0.0.1'
// Redis Cluster's bus listens on port + 10000: a node's port must leave room for it.
const busOffset = 10_000
const maxPort = 65_535 - busOffset

function binary(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the tests that start their own Redis processes skip: only outside CI, when `redis-server` or
 * `redis-cli` is not installed (a sentinel is `redis-server --sentinel`). In CI they run, and fail if one
 * is missing. Prints why when they skip.
 */
export function skipWithoutRedisBinaries(what: string): boolean {
  const missing = ['redis-server', 'redis-cli'].filter((name) => binary(name) === undefined)
  if (missing.length === 0 || process.env.CI === 'true') return false
  console.warn(`${missing.join(' and ')} not installed: skipping ${what}`)
  return true
}

function listen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(undefined))
    server.listen(port, host, () => resolve(server))
  })
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

/**
 * `count` distinct free ports below 55535 whose bus port (port + 10000) is free too, found by binding
 * port 0 and then the bus port, holding both until all are found (at most 200 tries).
 */
export async function freeClusterPorts(count: number): Promise<number[]> {
  const held: net.Server[] = []
  const ports: number[] = []
  try {
    for (let attempt = 0; attempt < 200 && ports.length < count; attempt++) {
      const server = await listen(0)
      if (server === undefined) continue
      held.push(server)
      const port = (server.address() as net.AddressInfo).port
      if (port > maxPort) continue
      const bus = await listen(port + busOffset)
      if (bus === undefined) continue
      held.push(bus)
      ports.push(port)
    }
  } finally {
    await Promise.all(held.map(close))
  }
  if (ports.length < count) throw new Error(`found ${ports.length} of ${count} free cluster ports`)
  return ports
}

/** Sends one inline command over a raw socket and returns the reply text (bounded by `ms`). */
export function rawCommand(port: number, command: string, ms = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    let reply = ''
    const done = (text: string | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(text)
    }
    const timer = setTimeout(() => done(undefined), ms)
    socket.on('connect', () => socket.write(`${command}\r\n`))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      // A bulk reply: "$<length>\r\n<text>\r\n"; a simple reply or an error: one line.
      if (reply.startsWith('$')) {
        const header = reply.indexOf('\r\n')
        if (header !== -1 && reply.length >= header + 2 + Number(reply.slice(1, header)) + 2) {
          done(reply.slice(header + 2, header + 2 + Number(reply.slice(1, header))))
        }
      } else if (reply.includes('\r\n')) done(reply.slice(0, reply.indexOf('\r\n')))
    })
    socket.on('error', () => done(undefined))
  })
}

/** Polls `probe` every `every` ms until it returns true, at most `ms` in all. */
export async function until(
  probe: () => Promise<boolean>,
  what: string,
  ms = 20_000,
  every = 50,
): Promise<void> {
  const deadline = Date.now() + ms
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (await probe()) return
    await sleep(every)
  }
  throw new Error(`timed out after ${ms} ms waiting until ${what}`)
}

/** One redis-server process. */
export interface RedisProcess {
  readonly port: number
  /** Whether the process still runs. */
  alive(): boolean
  /** SIGKILL: no goodbye to clients or to the other nodes. Waits for the process to exit. */
  kill(): Promise<void>
  /**
   * Starts a killed process again with the same arguments, and waits (bounded) until it answers: a
   * Cluster node rejoins from its nodes file, a failed-over primary as a replica.
   */
  restart(): Promise<void>
  /** SIGSTOP or SIGCONT: a node that stops answering without closing its connections. */
  pause(): void
  resume(): void
}

function startProcess(command: string, args: string[], port: number): RedisProcess {
  let child: ChildProcess
  // A test process that exits without its teardown (a timeout, an uncaught error) takes its Redis
  // processes with it; a process killed outright cannot, and leaves them running.
  const reap = () => child.kill('SIGKILL')
  const spawnChild = () => {
    child = spawn(command, args, { stdio: 'ignore' })
    child.on('error', () => {})
    process.once('exit', reap)
    child.once('exit', () => process.removeListener('exit', reap))
  }
  spawnChild()
  const alive = () => child.exitCode === null && child.signalCode === null
  return {
    port,
    alive,
    async kill() {
      if (!alive()) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGCONT')
      child.kill('SIGKILL')
      await exited
    },
    async restart() {
      if (alive()) throw new Error(`the process on ${port} still runs`)
      spawnChild()
      await until(async () => (await rawCommand(port, 'PING', 200)) === '+PONG', `${port} answers again`)
    },
    pause() {
      if (alive()) child.kill('SIGSTOP')
    },
    resume() {
      if (alive()) child.kill('SIGCONT')
    },
  }
}

function serverArgs(dir: string, port: number, extra: string[]): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    host,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--logfile',
    join(dir, `${port}.log`),
    ...extra,
  ]
}

/** The nodes of a test cluster as it sees itself now. */
export interface ClusterNodeInfo {
  readonly id: string
  readonly port: number
  readonly role: 'primary' | 'replica'
  /** For a replica, the id of its primary. */
  readonly primaryId: string | undefined
  /** Whether the cluster marks it failed. */
  readonly failed: boolean
  readonly slots: readonly string[]
}

/** A running test cluster. */
export interface RedisCluster {
  /** Every node process, in the order they were started. */
  readonly processes: readonly RedisProcess[]
  /** Where a client starts: every node. */
  readonly startupNodes: readonly { host: string; port: number }[]
  /** A new ioredis Cluster client of this cluster (with a listener that ignores connection errors). */
  client(options?: ClusterClientOptions): Cluster
  /** The nodes as the node on `port` (by default, any live node) sees them. */
  nodes(port?: number): Promise<ClusterNodeInfo[]>
  /** The process of the node that serves `key`'s slot as primary now. */
  primaryOf(key: string): Promise<RedisProcess>
  /** The process of the replica of the primary `primary`. */
  replicaOf(primary: RedisProcess): Promise<RedisProcess>
  /** Waits until every live node reports `cluster_state:ok` and every replica's link is up. */
  waitUntilHealthy(ms?: number): Promise<void>
  /** Kills every process and removes the directory. */
  stop(): Promise<void>
}

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** `cluster-node-timeout` in ms: how long a silent node takes to be failed over; 1000 by default. */
  readonly nodeTimeout?: number
}

/**
 * Starts a Redis Cluster of three primaries and three replicas on loopback and waits (bounded) until it
 * serves every slot. Replicas may always be promoted (`cluster-replica-validity-factor 0`), so a test
 * that kills a primary sees its replica take over after about `nodeTimeout`.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const nodeTimeout = options.nodeTimeout ?? 1000
  const dir = await mkdtemp(join(tmpdir(), 'zt-redis-cluster-'))
  const processes: RedisProcess[] = []
  const stop = async () => {
    await Promise.all(processes.map((p) => p.kill()))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const ports = await freeClusterPorts(6)
    for (const port of ports) {
      processes.push(
        startProcess(
          'redis-server',
          serverArgs(dir, port, [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            String(nodeTimeout),
            '--cluster-replica-validity-factor',
            '0',
          ]),
          port,
        ),
      )
    }
    await Promise.all(
      ports.map((port) =>
        until(async () => (await rawCommand(port, 'PING', 200)) === '+PONG', `${port} answers`),
      ),
    )
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((port) => `${host}:${port}`),
          '--cluster-replicas',
          '1',
          '--cluster-yes',
        ],
        { timeout: 60_000 },
        (error, _stdout, stderr) =>
          error === null ? resolve() : reject(new Error(`cluster create failed: ${stderr}`)),
      )
    })
    const cluster = clusterOf(processes, stop)
    await cluster.waitUntilHealthy(30_000)
    return cluster
  } catch (error) {
    await stop()
    throw error
  }
}

function parseNodes(text: string): ClusterNodeInfo[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', primary = '', , , , , ...slots] = line.trim().split(' ')
      return {
        id,
        port: Number(address.split('@')[0]?.split(':')[1]),
        role: flags.includes('master') ? 'primary' : 'replica',
        primaryId: primary === '-' ? undefined : primary,
        failed: flags.includes('fail'),
        slots,
      }
    })
}

function clusterOf(processes: RedisProcess[], stop: () => Promise<void>): RedisCluster {
  const live = () => processes.filter((p) => p.alive())
  const nodes = async (port?: number) => {
    for (const p of port === undefined ? live() : processes.filter((q) => q.port === port)) {
      const text = await rawCommand(p.port, 'CLUSTER NODES')
      if (text !== undefined && !text.startsWith('-')) return parseNodes(text)
    }
    throw new Error('no node answered CLUSTER NODES')
  }
  return {
    processes,
    startupNodes: processes.map((p) => ({ host, port: p.port })),
    client(clientOptions) {
      const client = new Cluster(
        processes.map((p) => ({ host, port: p.port })),
        clientOptions,
      )
      client.on('error', () => {})
      return client
    },
    nodes,
    async primaryOf(key) {
      const reply = await rawCommand(live()[0]?.port ?? 0, `CLUSTER KEYSLOT ${key}`)
      const slot = Number(reply?.slice(1))
      if (!Number.isInteger(slot)) throw new Error(`no slot for ${key}`)
      const owner = (await nodes()).find(
        (node) =>
          node.role === 'primary' &&
          !node.failed &&
          node.slots.some((range) => {
            const [from, to = from] = range.split('-').map(Number)
            return from !== undefined && to !== undefined && slot >= from && slot <= to
          }),
      )
      const process_ = processes.find((p) => p.port === owner?.port)
      if (process_ === undefined) throw new Error(`no primary serves slot ${slot}`)
      return process_
    },
    async replicaOf(primary) {
      const all = await nodes()
      const id = all.find((node) => node.port === primary.port)?.id
      const replica = all.find((node) => node.role === 'replica' && node.primaryId === id)
      const process_ = processes.find((p) => p.port === replica?.port)
      if (id === undefined || process_ === undefined) throw new Error(`no replica of ${primary.port}`)
      return process_
    },
    async waitUntilHealthy(ms = 30_000) {
      await until(
        async () => {
          for (const p of live()) {
            const info = await rawCommand(p.port, 'CLUSTER INFO')
            if (info === undefined || !info.includes('cluster_state:ok')) return false
            const replication = await rawCommand(p.port, 'INFO replication')
            if (replication?.includes('role:slave') && !replication.includes('master_link_status:up'))
              return false
          }
          return true
        },
        'the cluster is healthy',
        ms,
        100,
      )
    },
    stop,
  }
}

/** A primary, its replica and one sentinel that watches them (quorum 1). */
export interface RedisSentinelGroup {
  /** The name the sentinel knows the primary by. */
  readonly name: string
  readonly primary: RedisProcess
  readonly replica: RedisProcess
  readonly sentinel: RedisProcess
  /** Kills every process and removes the directory. */
  stop(): Promise<void>
}

/**
 * Starts a primary, a replica of it, and a sentinel that fails the primary over after `downAfter` ms of
 * silence (1000 by default), and waits (bounded) until the sentinel watches both.
 */
export async function startRedisSentinel(options: { downAfter?: number } = {}): Promise<RedisSentinelGroup> {
  const downAfter = options.downAfter ?? 1000
  const name = 'zt-primary'
  const dir = await mkdtemp(join(tmpdir(), 'zt-redis-sentinel-'))
  const processes: RedisProcess[] = []
  const stop = async () => {
    await Promise.all(processes.map((p) => p.kill()))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const [primaryPort, replicaPort, sentinelPort] = (await freeClusterPorts(3)) as [number, number, number]
    const primary = startProcess('redis-server', serverArgs(dir, primaryPort, []), primaryPort)
    processes.push(primary)
    const replica = startProcess(
      'redis-server',
      serverArgs(dir, replicaPort, ['--replicaof', host, String(primaryPort)]),
      replicaPort,
    )
    processes.push(replica)
    // A sentinel rewrites its configuration file: it must be a file of its own.
    const config = join(dir, 'sentinel.conf')
    await writeFile(
      config,
      [
        `port ${sentinelPort}`,
        `bind ${host}`,
        `dir ${dir}`,
        `logfile ${join(dir, 'sentinel.log')}`,
        `sentinel monitor ${name} ${host} ${primaryPort} 1`,
        `sentinel down-after-milliseconds ${name} ${downAfter}`,
        `sentinel failover-timeout ${name} ${Math.max(downAfter * 3, 3000)}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    )
    const sentinel = startProcess('redis-server', [config, '--sentinel'], sentinelPort)
    processes.push(sentinel)
    await until(
      async () =>
        (await rawCommand(replicaPort, 'INFO replication'))?.includes('master_link_status:up') === true,
      'the replica is in sync',
    )
    await until(async () => {
      const text = await rawCommand(sentinelPort, `SENTINEL REPLICAS ${name}`)
      // An array reply: "*<count>"; none known yet is "*0".
      return text?.startsWith('*') === true && text !== '*0'
    }, 'the sentinel knows the replica')
    return { name, primary, replica, sentinel, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
