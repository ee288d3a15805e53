// autocannon over mutual TLS, in one run: Node's https server alone, then each framework over the same
// TLS bare and behind authenticate(workloadIdentity({ source: 'mtls' })), which reads the caller's SPIFFE
// ID from the verified client certificate on every request. Each server runs in its own process and
// autocannon in this one; connections are kept alive (each handshake once), so the difference between
// `bare` and `workload` is the per-request cost of reading the workload. Every load is bounded in time.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { createTestCa, issueSvid } from '@zerotrust/testkit/ca'
import autocannon from 'autocannon'

const frameworks = process.env.BENCH_FRAMEWORKS?.split(',') ?? ['express', 'fastify', 'koa', 'hono']
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20)
const pipelining = Number(process.env.BENCH_PIPELINING ?? 10)
const here = new URL('.', import.meta.url)

const ca = await createTestCa({ trustDomain: 'prod.example.com' })
const server = await issueSvid(ca, { spiffeId: 'spiffe://prod.example.com/orders', ips: ['127.0.0.1'] })
const client = await issueSvid(ca, { spiffeId: 'spiffe://prod.example.com/checkout' })
const dir = mkdtempSync(join(tmpdir(), 'zerotrust-bench-svid-'))
writeFileSync(join(dir, 'svid.pem'), server.chain)
writeFileSync(join(dir, 'svid_key.pem'), server.key)
writeFileSync(join(dir, 'svid_bundle.pem'), ca.bundle)

interface BenchServer {
  readonly port: number
  readonly child: ChildProcess
  /** CPU microseconds the server process has used so far. */
  cpu(): Promise<number>
}

async function startServer(framework: string, mode: string): Promise<BenchServer> {
  const child = spawn(
    process.execPath,
    // The packages' builds (`pnpm build` first), as in benchmarks/http: tsx's wrapping of closures is a
    // per-request cost the published code does not have.
    ['--import', 'tsx', new URL('server.ts', here).pathname, framework, mode],
    {
      env: { ...process.env, ZT_BENCH_SVID_DIR: dir, NODE_ENV: 'production' },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  // The last of stderr, to say why a server that never started did not (the rest is dropped: frameworks
  // log the EPIPEs of connections autocannon closes at the end).
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000)
  })
  const stdout = child.stdout as NodeJS.ReadableStream
  const next = async () => JSON.parse(((await once(stdout, 'data')) as [Buffer])[0].toString()) as unknown
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the ${framework} ${mode} server exited (${code}) before it listened: ${stderr}`)
  })
  const { port } = (await Promise.race([next(), exited])) as { port: number }
  exited.catch(() => {})
  const cpu = async () => {
    child.stdin?.write('mark\n')
    return ((await next()) as { cpu: number }).cpu
  }
  return { port, child, cpu }
}

async function load(port: number, duration: number) {
  const result = await autocannon({
    url: `https://127.0.0.1:${port}/orders`,
    connections,
    pipelining,
    duration,
    tlsOptions: { cert: client.chain, key: client.key, ca: ca.bundle },
  })
  if (result['2xx'] === 0 || result.non2xx > 0 || result.errors > 0) {
    throw new Error(`unexpected answers: ${result.non2xx} non-2xx, ${result.errors} errors`)
  }
  return { rps: result.requests.average, p99: result.latency.p99, total: result.requests.total }
}

type Samples = { rps: number[]; p99: number[]; cpuPerRequest: number[] }
const samples = (): Samples => ({ rps: [], p99: [], cpuPerRequest: [] })
const runs: [string, string][] = [
  ['tls', 'bare'],
  ...frameworks.flatMap(
    (f) =>
      [
        [f, 'bare'],
        [f, 'workload'],
      ] as [string, string][],
  ),
]
const results = new Map<string, Samples>(runs.map(([f, m]) => [`${f} ${m}`, samples()]))
const loads: number[] = []

try {
  for (let round = 0; round < rounds; round++) {
    // Alternate the order, so a warming (or a loaded) machine favours neither mode.
    const order = round % 2 === 0 ? runs : [...runs].reverse()
    for (const [framework, mode] of order) {
      const bench = await startServer(framework, mode)
      try {
        await load(bench.port, 1) // warm-up: JIT, the connections' handshakes, the certificate cache
        loads.push(loadavg()[0] as number)
        const before = await bench.cpu()
        const { rps, p99, total } = await load(bench.port, seconds)
        const cpuPerRequest = ((await bench.cpu()) - before) / total
        const row = results.get(`${framework} ${mode}`) as Samples
        row.rps.push(rps)
        row.p99.push(p99)
        row.cpuPerRequest.push(cpuPerRequest)
        console.error(
          `${framework} ${mode}: ${Math.round(rps)} req/s, ${cpuPerRequest.toFixed(1)} µs CPU/request`,
        )
      } finally {
        bench.child.kill()
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const tls = results.get('tls bare') as Samples
const lines = [
  `- Date: ${new Date().toISOString().slice(0, 10)}`,
  `- Machine: ${cpus()[0]?.model.trim()}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; 1-minute load average during the runs ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)}`,
  `- Node ${process.version}; autocannon over mutual TLS (client certificate of spiffe://prod.example.com/checkout), ${connections} kept-alive connections, pipelining ${pipelining}, ${seconds} s per run after 1 s of warm-up; medians of ${rounds} rounds, order alternated`,
  `- Node's https server alone: ${fmt(median(tls.rps))} req/s, ${median(tls.cpuPerRequest).toFixed(1)} µs CPU/request`,
  '',
  '| Framework | bare req/s | workload req/s | workload ÷ bare | ÷ https alone | bare CPU/req (µs) | workload CPU/req (µs) | workload over bare (µs CPU) |',
  '| --- | --: | --: | --: | --: | --: | --: | --: |',
]
for (const framework of frameworks) {
  const bare = results.get(`${framework} bare`) as Samples
  const guarded = results.get(`${framework} workload`) as Samples
  const [bareCpu, guardedCpu] = [median(bare.cpuPerRequest), median(guarded.cpuPerRequest)]
  lines.push(
    `| ${framework} | ${fmt(median(bare.rps))} | ${fmt(median(guarded.rps))} | ${((median(guarded.rps) / median(bare.rps)) * 100).toFixed(1)} % | ${((median(guarded.rps) / median(tls.rps)) * 100).toFixed(1)} % | ${bareCpu.toFixed(1)} | ${guardedCpu.toFixed(1)} | ${(guardedCpu - bareCpu).toFixed(1)} |`,
  )
}
const table = lines.join('\n')
console.log(table)
const out = new URL('../latest/', here)
mkdirSync(out, { recursive: true })
writeFileSync(new URL('workload.md', out), `${table}\n`)
console.error(`written to ${new URL('workload.md', out).pathname}`)
