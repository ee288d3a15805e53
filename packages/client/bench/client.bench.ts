// What zeroTrustClient costs per call over a bare undici request to the same mutual-TLS server, with the
// token cached (clientCredentials warmed against the testkit's oidc-provider): the bare request (an undici
// Agent with the same certificate, key and CA, the same Authorization header, the body read), the client
// (SPIFFE ID check, token from the cache, event sink, bounded body, a Response), and the client with a
// DPoP proof per call. Then a DPoP proof against one raw ES256 signature of an input of the same size.
// Rounds are interleaved (each round runs every task, in a rotating order) and each round's medians are
// compared, as the machine is shared.
//
// Run: pnpm --filter @zerotrust/client bench. BENCH_TIME (ms per task and round), BENCH_ROUNDS and
// BENCH_OUT (the markdown file written) override the defaults.
import { KeyObject, sign, type webcrypto } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  benchOptions,
  envInteger,
  machineLine,
  markdownTable,
  samplesOf,
  summarize,
} from '@zerotrust/benchkit'
import { startAuthorizationServer } from '@zerotrust/testkit'
import { createTestCa, issueSvid } from '@zerotrust/testkit/ca'
import { Bench } from 'tinybench'
import { Agent } from 'undici'
import { clientCredentials, clientSecretBasic, zeroTrustClient } from '../src/index.js'
import { dpopSigner } from '../src/lib/dpop-key.js'

const time = envInteger('BENCH_TIME', 1500)
const rounds = envInteger('BENCH_ROUNDS', 6)
const out =
  process.env.BENCH_OUT ?? fileURLToPath(new URL('../../../benchmarks/latest/client.md', import.meta.url))

const td = 'prod.example.com'
const ca = await createTestCa({ trustDomain: td })
const serverSvid = await issueSvid(ca, { spiffeId: `spiffe://${td}/billing`, ips: ['127.0.0.1'] })
const clientSvid = await issueSvid(ca, { spiffeId: `spiffe://${td}/checkout` })

const body = JSON.stringify({ id: 'ch_1', amount: 4200, currency: 'eur' })
const server = createServer(
  { cert: serverSvid.chain, key: serverSvid.key, ca: ca.bundle, requestCert: true, rejectUnauthorized: true },
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  },
)
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`

const as = await startAuthorizationServer({
  resources: [{ indicator: 'api://billing', scope: 'charges:read', accessTokenTtl: 3600 }],
  clients: [{ clientId: 'checkout' }],
})
const registered = as.clients[0]
if (registered === undefined) throw new Error('no client')
const tokens = clientCredentials({
  issuer: as.issuer,
  clientId: registered.clientId,
  auth: clientSecretBasic(registered.clientSecret),
  resource: 'api://billing',
})
const bearer = `Bearer ${(await tokens.token()).value}`

const bare = new Agent({
  connections: 1,
  connect: { cert: clientSvid.chain, key: clientSvid.key, ca: ca.bundle },
})
const tls = {
  certificate: clientSvid.chain,
  key: clientSvid.key,
  bundle: ca.bundle,
  spiffeId: `spiffe://${td}/checkout`,
}
let events = 0
const client = zeroTrustClient({
  baseUrl: origin,
  tls,
  expectPeer: `spiffe://${td}/billing`,
  tokens,
  connections: 1,
  onEvent: () => {
    events++
  },
})
const quiet = zeroTrustClient({
  baseUrl: origin,
  tls,
  expectPeer: `spiffe://${td}/billing`,
  tokens,
  connections: 1,
})
const dpopKey = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
  'sign',
  'verify',
])) as webcrypto.CryptoKeyPair
const cached = await tokens.token()
const dpopToken = { type: 'DPoP', expiresAt: cached.expiresAt, value: cached.value } as const
// The DPoP row measures the proof's cost on the wire, not the token's binding (the server checks nothing).
const dpopClient = zeroTrustClient({
  baseUrl: origin,
  tls,
  expectPeer: `spiffe://${td}/billing`,
  tokens: { token: async () => dpopToken, peek: () => dpopToken, invalidate: () => {} },
  dpop: { key: dpopKey },
  connections: 1,
})

const tasks = {
  bare: 'undici Agent.request, body read (baseline)',
  client: 'zeroTrustClient.fetch, token cached',
  quiet: 'zeroTrustClient.fetch, token cached, no event sink',
  dpop: 'zeroTrustClient.fetch, token cached + DPoP proof',
} as const

async function bareCall(): Promise<void> {
  const res = await bare.request({
    origin,
    path: '/v1/charges/ch_1',
    method: 'GET',
    headers: { authorization: bearer },
  })
  await res.body.text()
}

const runs: Record<keyof typeof tasks, () => Promise<unknown>> = {
  bare: bareCall,
  client: async () => (await client.fetch('/v1/charges/ch_1')).text(),
  quiet: async () => (await quiet.fetch('/v1/charges/ch_1')).text(),
  dpop: async () => (await dpopClient.fetch('/v1/charges/ch_1')).text(),
}

// Micro: a proof against one raw ES256 signature (node:crypto, P1363) of an input of the proof's size.
const signer = dpopSigner(dpopKey)
const accessToken = (await tokens.token()).value
const sample = signer.proof('GET', `${origin}/v1/charges/ch_1`, accessToken, 'nonce-1')
const input = Buffer.from(sample.slice(0, sample.lastIndexOf('.')))
const rawKey = KeyObject.from(dpopKey.privateKey)
const micro = {
  raw: 'node:crypto sign ES256, P1363 (floor)',
  proof: 'DPoP proof (htm, htu, ath, jti, iat, nonce)',
} as const
const microRuns: Record<keyof typeof micro, () => unknown> = {
  raw: () => sign('sha256', input, { key: rawKey, dsaEncoding: 'ieee-p1363' }),
  proof: () => signer.proof('GET', `${origin}/v1/charges/ch_1`, accessToken, 'nonce-1'),
}

// Warm everything: connections, the JIT, the token cache.
for (let i = 0; i < 300; i++) await Promise.all([runs.bare(), runs.client(), runs.quiet(), runs.dpop()])

/** CPU microseconds (user + system, both sides: the server runs in this process) per call over `calls`. */
async function cpuPerCall(run: () => Promise<unknown>, calls: number): Promise<number> {
  const before = process.cpuUsage()
  for (let i = 0; i < calls; i++) await run()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / calls
}

const cpuCalls = envInteger('BENCH_CPU_CALLS', 3000)
const cpu: Record<keyof typeof tasks, number[]> = { bare: [], client: [], quiet: [], dpop: [] }
const cpuRatios: { client: number[]; quiet: number[]; dpop: number[] } = { client: [], quiet: [], dpop: [] }
const httpSamples = new Map<string, number[]>()
const microSamples = new Map<string, number[]>()
const ratios: { client: number[]; quiet: number[]; dpop: number[]; proof: number[] } = {
  client: [],
  quiet: [],
  dpop: [],
  proof: [],
}
const load: number[] = []
for (let round = 0; round < rounds; round++) {
  load.push(os.loadavg()[0] ?? 0)
  const order = (Object.keys(tasks) as (keyof typeof tasks)[]).map(
    (_, i, all) => all[(i + round) % all.length],
  )
  const bench = new Bench(benchOptions(time))
  for (const id of order) if (id !== undefined) bench.add(tasks[id], runs[id])
  await bench.run()
  const medians: Record<string, number> = {}
  for (const task of bench.tasks) {
    const samples = [...samplesOf(task)]
    httpSamples.set(task.name, [...(httpSamples.get(task.name) ?? []), ...samples])
    medians[task.name] = summarize(samples).p50
  }
  // CPU time per call: what the client costs, whatever else the shared machine runs meanwhile.
  const roundCpu: Record<string, number> = {}
  for (const id of order) if (id !== undefined) roundCpu[id] = await cpuPerCall(runs[id], cpuCalls)
  for (const id of Object.keys(cpu) as (keyof typeof tasks)[]) cpu[id].push(roundCpu[id] ?? 0)
  cpuRatios.client.push((roundCpu.client ?? 0) / (roundCpu.bare ?? 1))
  cpuRatios.quiet.push((roundCpu.quiet ?? 0) / (roundCpu.bare ?? 1))
  cpuRatios.dpop.push((roundCpu.dpop ?? 0) / (roundCpu.bare ?? 1))
  ratios.client.push((medians[tasks.client] ?? 0) / (medians[tasks.bare] ?? 1))
  ratios.quiet.push((medians[tasks.quiet] ?? 0) / (medians[tasks.bare] ?? 1))
  ratios.dpop.push((medians[tasks.dpop] ?? 0) / (medians[tasks.bare] ?? 1))
  const microBench = new Bench(benchOptions(Math.max(200, time / 3)))
  const microOrder = round % 2 === 0 ? (['raw', 'proof'] as const) : (['proof', 'raw'] as const)
  for (const id of microOrder) microBench.add(micro[id], microRuns[id])
  await microBench.run()
  const microMedians: Record<string, number> = {}
  for (const task of microBench.tasks) {
    const samples = [...samplesOf(task)]
    microSamples.set(task.name, [...(microSamples.get(task.name) ?? []), ...samples])
    microMedians[task.name] = summarize(samples).p50
  }
  ratios.proof.push((microMedians[micro.proof] ?? 0) / (microMedians[micro.raw] ?? 1))
  console.error(
    `round ${round + 1}/${rounds}: p50 client ×${ratios.client.at(-1)?.toFixed(3)}, dpop ×${ratios.dpop.at(-1)?.toFixed(3)}; cpu client ×${cpuRatios.client.at(-1)?.toFixed(3)}, dpop ×${cpuRatios.dpop.at(-1)?.toFixed(3)}; proof ×${ratios.proof.at(-1)?.toFixed(3)} (load ${load.at(-1)?.toFixed(2)})`,
  )
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function table(samples: Map<string, number[]>, baseline: string): string {
  const base = summarize(samples.get(baseline) ?? [])
  const rows = [...samples].map(([name, values]) => {
    const summary = summarize(values)
    return [
      name,
      summary.p50.toFixed(1),
      summary.p99.toFixed(1),
      (summary.p50 / base.p50).toFixed(3),
      String(summary.samples),
    ]
  })
  return markdownTable(
    [
      ['task', 'left'],
      ['p50 µs', 'right'],
      ['p99 µs', 'right'],
      ['× baseline (p50)', 'right'],
      ['samples', 'right'],
    ],
    rows,
  )
}

const text = [
  machineLine(),
  `${rounds} interleaved rounds of ${time} ms per task; load average (1 min) at each round: ${load.map((l) => l.toFixed(2)).join(', ')}`,
  '',
  'Calls, one at a time, to a mutual-TLS server in the same process (pooled samples):',
  '',
  table(httpSamples, tasks.bare),
  '',
  `Median of the per-round ratios of medians: client ×${median(ratios.client).toFixed(3)} (rounds: ${ratios.client.map((r) => r.toFixed(3)).join(', ')}); without an event sink ×${median(ratios.quiet).toFixed(3)} (rounds: ${ratios.quiet.map((r) => r.toFixed(3)).join(', ')}); with DPoP ×${median(ratios.dpop).toFixed(3)}`,
  '',
  `CPU time per call (user + system, client and server, ${cpuCalls} sequential calls per task and round):`,
  '',
  markdownTable(
    [
      ['task', 'left'],
      ['median CPU µs/call', 'right'],
      ['× baseline', 'right'],
      ['rounds', 'left'],
    ],
    (Object.keys(tasks) as (keyof typeof tasks)[]).map((id) => [
      tasks[id],
      median(cpu[id]).toFixed(1),
      (median(cpu[id]) / median(cpu.bare)).toFixed(3),
      cpu[id].map((v) => v.toFixed(1)).join(', '),
    ]),
  ),
  '',
  `Median of the per-round CPU ratios: client ×${median(cpuRatios.client).toFixed(3)} (rounds: ${cpuRatios.client.map((r) => r.toFixed(3)).join(', ')}); without an event sink ×${median(cpuRatios.quiet).toFixed(3)}; with DPoP ×${median(cpuRatios.dpop).toFixed(3)}`,
  '',
  'A DPoP proof against one raw ES256 signature:',
  '',
  table(microSamples, micro.raw),
  '',
  `Median of the per-round ratios: proof ×${median(ratios.proof).toFixed(3)} (rounds: ${ratios.proof.map((r) => r.toFixed(3)).join(', ')})`,
  `(${events} events delivered to the client's sink during the run)`,
].join('\n')
console.log(text)
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, `${text}\n`)

await Promise.all([
  client.close(),
  quiet.close(),
  dpopClient.close(),
  bare.close(),
  tokens.close(),
  as.close(),
])
server.closeAllConnections()
server.close()
