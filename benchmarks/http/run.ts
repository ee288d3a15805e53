// autocannon against every adapter, in one run: the bare route, the route behind a no-op middleware,
// and the route behind authenticate(jwtBearer) with a token the verified-token cache already holds. Each
// server runs in its own process and autocannon in this one. The three servers of a framework run side
// by side and take short bursts in turn, so that the other work on a shared machine weighs on each
// alike; every burst reads the server's CPU time before and after. Every load is bounded in time.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import autocannon from 'autocannon'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'

const frameworks = process.env.BENCH_FRAMEWORKS?.split(',') ?? ['express', 'fastify', 'koa', 'hono']
// BENCH_ROUNDS bursts of BENCH_SECONDS each, per server.
const seconds = Number(process.env.BENCH_SECONDS ?? 2)
const rounds = Number(process.env.BENCH_ROUNDS ?? 8)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20)
const pipelining = Number(process.env.BENCH_PIPELINING ?? 10)
const here = new URL('.', import.meta.url)
const loads: number[] = [loadavg()[0] as number]

const { privateKey, publicKey } = await generateKeyPair('ES256')
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256' }
const now = Math.floor(Date.now() / 1000)
const token = await new SignJWT({
  iss: 'https://idp.example.com/',
  aud: 'api://orders',
  sub: 'alice',
  client_id: 'web-app',
  iat: now,
  exp: now + 3600,
  jti: 'bench-token',
  scope: 'orders:read',
})
  .setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })
  .sign(privateKey)

interface BenchServer {
  readonly port: number
  readonly child: ChildProcess
  /** CPU microseconds the server process has used so far. */
  cpu(): Promise<number>
}

async function startServer(framework: string, mode: string): Promise<BenchServer> {
  const child = spawn(
    process.execPath,
    // The packages' builds (`pnpm build` first), not their sources: tsx keeps function names by wrapping
    // every closure it creates, a per-request cost the published code does not have.
    [
      '--import',
      'tsx',
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      new URL('server.ts', here).pathname,
      framework,
      mode,
    ],
    {
      env: { ...process.env, ZT_BENCH_JWK: JSON.stringify(jwk), NODE_ENV: 'production' },
      // stderr is dropped: frameworks log the EPIPEs of connections autocannon closes at the end.
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  )
  const stdout = child.stdout as NodeJS.ReadableStream
  const next = async () => JSON.parse(((await once(stdout, 'data')) as [Buffer])[0].toString()) as unknown
  const { port } = (await next()) as { port: number }
  const cpu = async () => {
    child.stdin?.write('mark\n')
    return ((await next()) as { cpu: number }).cpu
  }
  return { port, child, cpu }
}

// Both modes send the same request, token included, so that only the server's work differs.
async function load(port: number, duration: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/orders`,
    connections,
    pipelining,
    duration,
    headers: { authorization: `Bearer ${token}` },
  })
  if (result['2xx'] === 0 || result.non2xx > 0 || result.errors > 0) {
    throw new Error(`unexpected answers: ${result.non2xx} non-2xx, ${result.errors} errors`)
  }
  // Over the burst as it ran; autocannon's own average counts whole seconds only.
  const total = result.requests.total
  return { rps: total / result.duration, p99: result.latency.p99, total }
}

// `noop` mounts the cheapest middleware that does nothing: what any middleware costs in that framework.
// `full` (Fastify only, BENCH_FULL=1) is the whole stack: authentication, scope, Cedar, a per-identity
// rate limit and the OTel decision sink.
type Mode = 'bare' | 'noop' | 'protected' | 'full'
const withFull = process.env.BENCH_FULL === '1'
type Samples = { rps: number[]; p99: number[]; cpuPerRequest: number[] }
const samples = (): Samples => ({ rps: [], p99: [], cpuPerRequest: [] })
const rows = new Map<string, Record<Mode, Samples>>(
  frameworks.map((f) => [f, { bare: samples(), noop: samples(), protected: samples(), full: samples() }]),
)

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}
for (const framework of frameworks) {
  const modes: readonly Mode[] =
    withFull && framework === 'fastify'
      ? ['bare', 'noop', 'protected', 'full']
      : ['bare', 'noop', 'protected']
  const servers = new Map<Mode, BenchServer>()
  try {
    for (const mode of modes) servers.set(mode, await startServer(framework, mode))
    // Warm-up: JIT, and the token into the cache.
    for (const server of servers.values()) await load(server.port, 1)
    for (let round = 0; round < rounds; round++) {
      // Rotate which mode goes first, so that a warming or busier machine favours none.
      const order = modes.map((_, i) => modes[(i + round) % modes.length] as Mode)
      for (const mode of order) {
        const server = servers.get(mode) as BenchServer
        const before = await server.cpu()
        const { rps, p99, total } = await load(server.port, seconds)
        const cpuPerRequest = ((await server.cpu()) - before) / total
        const row = rows.get(framework)?.[mode] as Samples
        row.rps.push(rps)
        row.p99.push(p99)
        row.cpuPerRequest.push(cpuPerRequest)
      }
    }
    const row = rows.get(framework) as Record<Mode, Samples>
    console.error(
      `${framework}: ${modes.map((m) => `${m} ${median(row[m].cpuPerRequest).toFixed(1)} µs CPU/request`).join(', ')}`,
    )
  } finally {
    for (const server of servers.values()) server.child.kill()
  }
  loads.push(loadavg()[0] as number)
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
// The spread of a figure across bursts, as ± half its interquartile range.
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}
const spread = (values: number[]) =>
  values.length < 4 ? '' : ` ±${((quantile(values, 0.75) - quantile(values, 0.25)) / 2).toFixed(1)}`
// One value per round from two modes' samples of that round.
const paired = (a: number[], b: number[], f: (x: number, y: number) => number) =>
  a.map((x, i) => f(x, b[i] as number))
const lines = [
  `- Date: ${new Date().toISOString().slice(0, 10)}; 1-minute load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the run`,
  `- Machine: ${cpus()[0]?.model.trim()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  `- Node ${process.version}; autocannon ${connections} connections, pipelining ${pipelining}, the three servers side by side after 1 s of warm-up each, then ${rounds} bursts of ${seconds} s per server in turn; medians over bursts`,
  "- Every mode sends the same request, token included. CPU/request is the server process's user + system time over the run divided by the requests it served (± half the interquartile range across bursts); capacity is bare CPU/request ÷ protected CPU/request, the share of the bare route's throughput one core keeps when it is the limit.",
  "- Paired: the servers of one round run back to back, so 'ours over no-op' and 'capacity' are taken within each round (protected − no-op, bare ÷ protected) and their median over rounds is shown (± half the interquartile range): a machine that speeds up or slows down between rounds moves both sides of each pair alike.",
  '',
  '| Framework | bare req/s | no-op req/s | protected req/s | protected ÷ bare req/s | bare CPU/req (µs) | no-op CPU/req (µs) | protected CPU/req (µs) | ours over no-op (µs), paired | capacity, paired | ≥ 90 % and ≤ 2 µs |',
  '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |',
]
for (const [framework, row] of rows) {
  const ratio = median(row.protected.rps) / median(row.bare.rps)
  const [bare, noop, guarded] = [row.bare, row.noop, row.protected].map((m) => median(m.cpuPerRequest)) as [
    number,
    number,
    number,
  ]
  // Within each round, then the median over rounds.
  const over = paired(row.protected.cpuPerRequest, row.noop.cpuPerRequest, (p, n) => p - n)
  const capacities = paired(row.bare.cpuPerRequest, row.protected.cpuPerRequest, (b, p) => (b / p) * 100)
  const met = median(capacities) >= 90 && median(over) <= 2
  const cpu = (m: Samples, value: number) => `${value.toFixed(1)}${spread(m.cpuPerRequest)}`
  lines.push(
    `| ${framework} | ${fmt(median(row.bare.rps))} | ${fmt(median(row.noop.rps))} | ${fmt(median(row.protected.rps))} | ${(ratio * 100).toFixed(1)} % | ${cpu(row.bare, bare)} | ${cpu(row.noop, noop)} | ${cpu(row.protected, guarded)} | ${median(over).toFixed(1)}${spread(over)} | ${median(capacities).toFixed(1)} %${spread(capacities)} | ${met ? 'met' : 'missed'} |`,
  )
}
const fastify = rows.get('fastify')
if (withFull && fastify !== undefined) {
  const bare = median(fastify.bare.cpuPerRequest)
  const whole = median(fastify.full.cpuPerRequest)
  const ratio = median(fastify.full.rps) / median(fastify.bare.rps)
  lines.push(
    '',
    'The full stack on Fastify: authentication, the route scope, a Cedar policy, a per-identity rate limit (memory) and the OTel decision sink (no SDK registered).',
    '',
    '| Framework | bare req/s | full stack req/s | full ÷ bare req/s | bare CPU/req (µs) | full CPU/req (µs) | capacity | ≥ 60 % |',
    '| --- | --: | --: | --: | --: | --: | --: | --- |',
    `| fastify | ${fmt(median(fastify.bare.rps))} | ${fmt(median(fastify.full.rps))} | ${(ratio * 100).toFixed(1)} % | ${bare.toFixed(1)} | ${whole.toFixed(1)}${spread(fastify.full.cpuPerRequest)} | ${((bare / whole) * 100).toFixed(1)} % | ${bare / whole >= 0.6 ? 'met' : 'missed'} |`,
  )
}
const table = lines.join('\n')
console.log(table)
const out = new URL('../latest/', here)
mkdirSync(out, { recursive: true })
writeFileSync(new URL('http.md', out), `${table}\n`)
console.error(`written to ${new URL('http.md', out).pathname}`)
