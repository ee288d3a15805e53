// `pnpm bench:peers`: zerotrust against the JWT middleware users of each framework reach for, over HTTP.
// One local JWKS server issues the keys; every server (one process each, so that its CPU is its own)
// verifies the same tokens from it. Two workloads: one token again and again, and 20,000 tokens in turn.
// Before it is measured, each server must accept the good token and refuse each bad one: a server that
// refused everything would look fast. The servers of a framework run side by side and take short bursts
// in turn, so that other work on a shared machine weighs on each alike; the load average is recorded.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { createInterface } from 'node:readline'
import { generateSigningKey, signAccessToken, startJwksServer, toJwks } from '@zerotrust/testkit'
import autocannon from 'autocannon'
import { type Contender, contenders, frameworks, type ServerSettings } from './contenders.js'
import { chart, type Measured, type Workload, workloads } from './report.js'

const quick = process.env.BENCH_QUICK === '1'
const number = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number`)
  return value
}
// BENCH_ROUNDS bursts of BENCH_SECONDS per server and workload.
const rounds = number('BENCH_ROUNDS', quick ? 2 : 6)
const seconds = number('BENCH_SECONDS', quick ? 0.5 : 1.5)
const warmup = number('BENCH_WARMUP', quick ? 0.5 : 1)
const connections = number('BENCH_CONNECTIONS', 20)
const pipelining = number('BENCH_PIPELINING', 10)
const tokenCount = number('BENCH_TOKENS', 20_000)
const algorithm = process.env.BENCH_ALG ?? 'ES256'
if (algorithm !== 'ES256' && algorithm !== 'RS256') throw new TypeError('BENCH_ALG must be ES256 or RS256')
// BENCH_PEERS picks servers by id or framework: `BENCH_PEERS=fastify,hono-jwk`.
const wanted = process.env.BENCH_PEERS?.split(',').map((name) => name.trim())
const chosen = contenders.filter(
  (c) => wanted === undefined || wanted.includes(c.id) || wanted.includes(c.framework),
)
if (chosen.length === 0) throw new TypeError(`BENCH_PEERS matches no server: ${wanted?.join(',')}`)
const here = new URL('.', import.meta.url)
const audience = 'api://orders'
const started = new Date()
const loads: number[] = [loadavg()[0] as number]

// The issuer: one key, served as a JWKS with an OpenID discovery document beside it.
const key = await generateSigningKey(algorithm, 'bench-key')
const idp = await startJwksServer(toJwks(key))
const settings: ServerSettings = { issuer: idp.issuer, jwksUri: idp.jwksUri, audience, algorithm }
const now = Math.floor(Date.now() / 1000)
const claims = { iss: idp.issuer, aud: audience, client_id: 'web-app', scope: 'orders:read', exp: now + 3600 }
const sign = (extra: Record<string, unknown> = {}, signer = key) =>
  signAccessToken(signer, { ...claims, sub: 'alice', ...extra })

console.error(`signing ${tokenCount.toLocaleString('en-US')} ${algorithm} tokens…`)
const single = await sign()
const rotating: string[] = []
for (let i = 0; i < tokenCount; i++) rotating.push(await sign({ sub: `user-${i}` }))
// Each must be refused: another key under the same `kid`, another audience, another issuer, expired.
const impostor = await generateSigningKey(algorithm, 'bench-key')
const refused: Readonly<Record<string, string | undefined>> = {
  'no token': undefined,
  'forged signature': await sign({}, impostor),
  'wrong audience': await sign({ aud: 'api://other' }),
  'wrong issuer': await sign({ iss: 'http://127.0.0.1:9/' }),
  expired: await sign({ iat: now - 7200, exp: now - 3600 }),
}

interface BenchServer {
  readonly port: number
  readonly child: ChildProcess
  /** CPU microseconds (user + system) the server process has used so far. */
  cpu(): Promise<number>
  /** The next of the rotating tokens this server gets: the turn goes on from one burst to the next. */
  turn: number
}

async function startServer(contender: Contender): Promise<BenchServer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('server.ts', here).pathname, contender.id],
    {
      env: { ...process.env, PEERS_SETTINGS: JSON.stringify(settings), NODE_ENV: 'production' },
      // stderr is dropped: frameworks log the EPIPEs of connections autocannon closes at the end.
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  )
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]()
  // One listener for the whole life of the server, whichever call is waiting when it exits.
  const exited = once(child, 'exit')
  const next = async (): Promise<Record<string, number>> => {
    let timer: NodeJS.Timeout | undefined
    try {
      const line = await Promise.race([
        lines.next(),
        exited.then(([code]) => {
          throw new Error(`${contender.id}: the server exited (${code})`)
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${contender.id}: no answer in 30 s`)), 30_000)
        }),
      ])
      if (line.done) throw new Error(`${contender.id}: the server closed its output`)
      return JSON.parse(line.value) as Record<string, number>
    } finally {
      clearTimeout(timer)
    }
  }
  const { port } = (await next()) as { port: number }
  const cpu = async () => {
    child.stdin?.write('mark\n')
    return (await next()).cpu as number
  }
  return { port, child, cpu, turn: 0 }
}

async function status(port: number, token: string | undefined): Promise<number> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
  const response = await fetch(`http://127.0.0.1:${port}/orders`, { headers })
  await response.arrayBuffer()
  return response.status
}

// A server is measured only once it has shown that it accepts the good tokens and refuses the bad ones.
async function check(contender: Contender, port: number): Promise<void> {
  for (const token of [single, rotating[0], rotating[rotating.length - 1]]) {
    const got = await status(port, token)
    if (got !== 200) throw new Error(`${contender.id}: a valid token got ${got}, not 200`)
  }
  if (contender.kind === 'bare') return
  for (const [name, token] of Object.entries(refused)) {
    const got = await status(port, token)
    if (got !== 401) throw new Error(`${contender.id}: ${name} got ${got}, not 401`)
  }
}

async function load(server: BenchServer, workload: Workload, duration: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/orders`,
    connections,
    pipelining,
    duration,
    headers: { authorization: `Bearer ${single}` },
    // One counter across all connections: every request carries the next of the tokens, in turn.
    ...(workload === 'rotating'
      ? {
          requests: [
            {
              method: 'GET',
              path: '/orders',
              setupRequest: (request) => {
                const token = rotating[server.turn++ % rotating.length] as string
                return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } }
              },
            },
          ],
        }
      : {}),
  } as autocannon.Options)
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(
      `unexpected answers: ${result['2xx']} 2xx, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
    )
  }
  // Over the burst as it ran; autocannon's own average counts whole seconds only.
  const total = result.requests.total
  return { rps: total / result.duration, p99: result.latency.p99, total }
}

const samples = new Map<string, Map<Workload, Measured[]>>(
  chosen.map((c) => [c.id, new Map(workloads.map((w) => [w, []]))]),
)

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}
// The spread of a figure across bursts: ± half its interquartile range, over its median.
const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}
const spread = (values: readonly number[]): string =>
  values.length < 4
    ? ''
    : ` ±${Math.round(((quantile(values, 0.75) - quantile(values, 0.25)) / 2 / median(values)) * 100)} %`

for (const framework of frameworks) {
  const group = chosen.filter((c) => c.framework === framework)
  const servers = new Map<Contender, BenchServer>()
  try {
    for (const contender of group) {
      const server = await startServer(contender)
      servers.set(contender, server)
      await check(contender, server.port)
      for (const workload of workloads) await load(server, workload, warmup)
    }
    for (let round = 0; round < rounds; round++) {
      // Rotate which server goes first, and alternate the workloads, so that none is favoured.
      const order = group.map((_, i) => group[(i + round) % group.length] as Contender)
      for (const workload of round % 2 === 0 ? workloads : [...workloads].reverse()) {
        for (const contender of order) {
          const server = servers.get(contender) as BenchServer
          const before = await server.cpu()
          const { rps, p99, total } = await load(server, workload, seconds)
          const used = (await server.cpu()) - before
          // A burst shorter than the server's latency on a busy machine completes nothing: no sample.
          if (total === 0) console.error(`${contender.id} ${workload}: no answer within a burst`)
          else
            samples
              .get(contender.id)
              ?.get(workload)
              ?.push({ rps, p99, cpu: used / total })
        }
      }
      loads.push(loadavg()[0] as number)
    }
    for (const contender of group) {
      const byWorkload = samples.get(contender.id) as Map<Workload, Measured[]>
      for (const [workload, measured] of byWorkload) {
        if (measured.length === 0)
          throw new Error(`${contender.id} ${workload}: no burst completed a request`)
      }
      console.error(
        `${contender.id}: ${workloads.map((w) => `${w} ${median((byWorkload.get(w) as Measured[]).map((m) => m.cpu)).toFixed(1)} µs CPU/request`).join(', ')}`,
      )
    }
  } finally {
    for (const server of servers.values()) {
      server.child.kill()
      await once(server.child, 'exit')
    }
  }
}
await idp.close()

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

const rows = chosen.map((contender) => {
  const byWorkload = samples.get(contender.id) as Map<Workload, Measured[]>
  const summary = (workload: Workload): Measured => {
    const all = byWorkload.get(workload) as Measured[]
    return {
      rps: median(all.map((s) => s.rps)),
      cpu: median(all.map((s) => s.cpu)),
      p99: median(all.map((s) => s.p99)),
    }
  }
  return { contender, single: summary('single'), rotating: summary('rotating'), samples: byWorkload }
})

const machine = `${cpus()[0]?.model.trim()}, ${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(1)} GiB`
const loadRange = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`
const lines = [
  `- Date: ${started.toISOString().slice(0, 10)}; machine: ${machine}; Node ${process.version}`,
  `- ${algorithm} tokens from one local JWKS server; ${fmt(tokenCount)} distinct tokens in turn for the rotating workload`,
  `- autocannon, ${connections} connections, pipelining ${pipelining}; the servers of a framework side by side, each warmed ${warmup} s per workload, ` +
    `then ${rounds} bursts of ${seconds} s per server and workload in turn; medians over bursts${quick ? ' (quick run)' : ''}`,
  `- Noise: 1-minute load average ${loadRange} during the run (other work shared the machine); ± is half the interquartile range across bursts`,
  "- CPU/req is the server process's user + system time over a burst divided by the requests it served; p99 is autocannon's latency in a burst",
  '',
  `| Framework | Middleware | one token req/s | CPU/req (µs) | p99 (ms) | ${fmt(tokenCount)} tokens req/s | CPU/req (µs) | p99 (ms) |`,
  '| --- | --- | --: | --: | --: | --: | --: | --: |',
]
for (const { contender, single: one, rotating: many, samples: all } of rows) {
  const s = all.get('single') as Measured[]
  const r = all.get('rotating') as Measured[]
  const name = contender.kind === 'zerotrust' ? `**${contender.label}**` : contender.label
  lines.push(
    `| ${contender.framework} | ${name} | ${fmt(one.rps)}${spread(s.map((x) => x.rps))} | ${one.cpu.toFixed(1)}${spread(s.map((x) => x.cpu))} | ${one.p99} | ` +
      `${fmt(many.rps)}${spread(r.map((x) => x.rps))} | ${many.cpu.toFixed(1)}${spread(r.map((x) => x.cpu))} | ${many.p99} |`,
  )
}
const table = lines.join('\n')
console.log(table)

const out = new URL('../latest/', here)
mkdirSync(out, { recursive: true })
writeFileSync(new URL('peers.md', out), `${table}\n`)
const svg = chart(
  rows.map(({ contender, single: one, rotating: many }) => ({ contender, single: one, rotating: many })),
  frameworks.filter((f) => chosen.some((c) => c.framework === f)),
  `${started.toISOString().slice(0, 10)}, ${machine}, Node ${process.version}, load average ${loadRange}`,
  tokenCount,
)
writeFileSync(new URL('peers.svg', out), svg)

// A full run replaces the marked section of RESULTS.md and the chart beside it; a quick one only prints.
if (!quick && wanted === undefined) {
  writeFileSync(new URL('../peers.svg', here), svg)
  const results = new URL('../RESULTS.md', here)
  const begin = '<!-- peers:begin (written by `pnpm bench:peers`) -->'
  const end = '<!-- peers:end -->'
  const text = readFileSync(results, 'utf8')
  const section = `${begin}\n${table}\n\n![Requests per CPU-second, by framework](peers.svg)\n${end}`
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  // The first run adds the section at the end, under its heading; later runs replace what it wrote.
  const updated =
    from === -1 || to === -1
      ? `${text.trimEnd()}\n\n## Against peers (\`pnpm bench:peers\`)\n\nHow each server is set up, and why these peers: [README.md](README.md#against-peers-pnpm-benchpeers).\n\n${section}\n`
      : `${text.slice(0, from)}${section}${text.slice(to + end.length)}`
  writeFileSync(results, updated)
  console.error('written to benchmarks/RESULTS.md and benchmarks/peers.svg')
} else {
  console.error(
    `written to ${new URL('peers.md', out).pathname} (a quick or partial run leaves RESULTS.md alone)`,
  )
}
