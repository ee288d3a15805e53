// Verification cost of a JWT access token, per algorithm, from the crypto floor up to jwtBearer's
// authenticate(): the floor (node:crypto verify + JSON.parse), jose alone, jwtBearer on distinct tokens (each
// a cache miss), jwtBearer with its cache off, and a cache hit. Then throughput with 64 verifications in
// flight: the floor with the synchronous `crypto.verify` and with its callback form (libuv's thread pool),
// and jwtBearer, which is how jwtBearer's choice between the two was made (issue 14).
//
// Run: pnpm --filter @zerotrust/jwt bench (or `pnpm bench` at the root). BENCH_TIME (ms per task and
// round), BENCH_ROUNDS, BENCH_POOL (distinct tokens per algorithm), BENCH_INFLIGHT_ROUNDS (0 skips the
// in-flight part) and BENCH_OUT (the markdown file written) override the defaults.
import {
  constants,
  createPublicKey,
  verify as cryptoVerify,
  KeyObject,
  randomUUID,
  sign,
  type VerifyKeyObjectInput,
} from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  benchOptions,
  envInteger,
  machineLine,
  markdownTable,
  type Summary,
  samplesOf,
  summarize,
} from '@zerotrust/benchkit'
import type { RequestLike } from '@zerotrust/core'
import { exportJWK, generateKeyPair, importJWK, type JWTVerifyOptions, jwtVerify, SignJWT } from 'jose'
import { Bench } from 'tinybench'
import { jwtBearer, rfc9068Claims } from '../src/index.js'

const time = envInteger('BENCH_TIME', 400)
// 0 rounds skips the sequential part (to run the in-flight part alone, under `taskset -c 0` for one core).
const rounds = Number(process.env.BENCH_ROUNDS ?? 8)
// Distinct tokens per algorithm, cycled; the verified-token cache of the "distinct tokens" path holds half
// as many, so a token has always been evicted by the time it comes round again: every call is a miss.
const poolSize = envInteger('BENCH_POOL', 2000)
const inflightRounds = Number(process.env.BENCH_INFLIGHT_ROUNDS ?? 4)
const inflight = 64
const out =
  process.env.BENCH_OUT ?? fileURLToPath(new URL('../../../benchmarks/latest/jwt-verify.md', import.meta.url))
// A cache hit is close to the cost of reading the clock, so it is also timed in batches of sequential
// awaits: one sample is the mean of a batch, and the timer's cost is spread over the batch.
const hitBatch = 100

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'

interface Algorithm {
  readonly alg: 'ES256' | 'RS256' | 'PS256' | 'EdDSA'
  readonly label: string
  /** The digest node:crypto is given; EdDSA hashes internally. */
  readonly digest: string | null
  /** How the floor calls `crypto.verify`: r || s for ECDSA (RFC 7518 §3.4), PSS with a hash-long salt. */
  readonly options: Omit<VerifyKeyObjectInput, 'key'>
}

const algorithms: readonly Algorithm[] = [
  { alg: 'ES256', label: 'ES256 (P-256)', digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  { alg: 'RS256', label: 'RS256 (RSA 2048)', digest: 'sha256', options: {} },
  {
    alg: 'PS256',
    label: 'PS256 (RSA 2048)',
    digest: 'sha256',
    options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
  },
  { alg: 'EdDSA', label: 'EdDSA (Ed25519)', digest: null, options: {} },
]

const paths = [
  { id: 'raw', name: 'node:crypto verify + JSON.parse (floor)' },
  { id: 'rawPool', name: 'the floor with crypto.verify on the thread pool' },
  { id: 'jose', name: 'jose jwtVerify, imported key' },
  { id: 'distinct', name: 'jwtBearer authenticate, distinct tokens (cold)' },
  { id: 'cold', name: 'jwtBearer authenticate, cache off' },
  { id: 'hit', name: 'jwtBearer authenticate, cache hit' },
  { id: 'hitBatch', name: `jwtBearer authenticate, cache hit (batches of ${hitBatch})` },
] as const
type PathId = (typeof paths)[number]['id']

const inflightPaths = [
  { id: 'sync', name: 'floor, sync crypto.verify' },
  { id: 'pool', name: 'floor, crypto.verify on the thread pool' },
  { id: 'jwtBearer', name: 'jwtBearer authenticate, distinct tokens' },
] as const
type InflightId = (typeof inflightPaths)[number]['id']

interface Subject {
  readonly algorithm: Algorithm
  readonly fns: Readonly<Record<PathId, () => unknown>>
  /** One request each, for the in-flight runs. */
  readonly requests: Readonly<Record<InflightId, () => Promise<unknown>>>
}

/**
 * Over one in-flight run: completions per second, CPU time of the whole process (main thread and thread
 * pool) per completion, and how busy the main thread's event loop was.
 */
interface Throughput {
  readonly perSecond: number
  readonly cpuMicros: number
  readonly utilization: number
}

async function main(): Promise<void> {
  const subjects: Subject[] = []
  for (const algorithm of algorithms) subjects.push(await prepare(algorithm))

  const pooled = new Map<string, number[]>()
  const before = os.loadavg()
  const started = performance.now()
  for (let round = 1; round <= rounds; round++) {
    // Paths alternate within a round, rounds repeat, and every other round runs in reverse order
    // (A B … B A), so slow drift of the machine (heat, other processes) and the after-effects of one task
    // on the next (garbage left to collect) spread over every path instead of landing on one.
    const bench = new Bench(benchOptions(time, { warmup: round === 1 }))
    const order = subjects.flatMap(({ algorithm, fns }) =>
      paths.map((path) => ({ name: key(algorithm, path.id), fn: fns[path.id] })),
    )
    if (round % 2 === 0) order.reverse()
    for (const { name, fn } of order) bench.add(name, fn)
    for (const task of await bench.run()) {
      const all = pooled.get(task.name) ?? []
      for (const sample of samplesOf(task)) all.push(sample)
      pooled.set(task.name, all)
    }
    console.error(`round ${round}/${rounds} done (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  }

  const throughputs = await measureInflight(subjects)
  const summaries = new Map<string, Summary>()
  for (const [name, samples] of pooled) summaries.set(name, summarize(samples))
  const report = render(summaries, throughputs, { before, after: os.loadavg() })
  console.log(report)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${report}\n`)
  console.error(`written to ${out}`)
}

/**
 * Runs each algorithm's in-flight paths for `time` ms at a time, interleaved and repeated, and keeps
 * each path's median over the rounds. 64 requests are always in flight: each of 64 workers starts its
 * next request when its last one ends.
 */
async function measureInflight(subjects: readonly Subject[]): Promise<Map<string, Throughput>> {
  const runs = new Map<string, Throughput[]>()
  for (let round = 1; round <= inflightRounds; round++) {
    const order = subjects.flatMap(({ algorithm, requests }) =>
      inflightPaths.map((path) => ({ name: key(algorithm, path.id), request: requests[path.id] })),
    )
    if (round % 2 === 0) order.reverse()
    for (const { name, request } of order) {
      const all = runs.get(name) ?? []
      all.push(await throughput(request, Math.max(time * 2, 500)))
      runs.set(name, all)
    }
    console.error(`in-flight round ${round}/${inflightRounds} done`)
  }
  const medians = new Map<string, Throughput>()
  for (const [name, all] of runs) {
    const middle = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
    medians.set(name, {
      perSecond: middle(all.map((t) => t.perSecond)),
      cpuMicros: middle(all.map((t) => t.cpuMicros)),
      utilization: middle(all.map((t) => t.utilization)),
    })
  }
  return medians
}

async function throughput(request: () => Promise<unknown>, ms: number): Promise<Throughput> {
  let done = 0
  const end = performance.now() + ms
  const worker = async () => {
    while (performance.now() < end) {
      await request()
      done++
    }
  }
  const elu = performance.eventLoopUtilization()
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(Array.from({ length: inflight }, worker))
  const elapsed = performance.now() - started
  const used = process.cpuUsage(cpu)
  return {
    perSecond: (done * 1000) / elapsed,
    cpuMicros: (used.user + used.system) / done,
    utilization: performance.eventLoopUtilization(elu).utilization,
  }
}

async function prepare(algorithm: Algorithm): Promise<Subject> {
  const { alg } = algorithm
  const kid = `bench-${alg.toLowerCase()}`
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid, alg }
  const now = Math.floor(Date.now() / 1000)
  const token = await new SignJWT({ client_id: 'bench-client', scope: 'orders:read orders:write' })
    .setProtectedHeader({ alg, typ: 'at+jwt', kid })
    .setIssuer(issuer)
    .setSubject('user-42')
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .setJti(randomUUID())
    .sign(privateKey)
  // The same token shape, `poolSize` times, each with its own "jti" and signature (signed by node:crypto,
  // which is quicker to make 2000 RSA signatures with than jose).
  const signingKey = { key: KeyObject.from(privateKey), ...algorithm.options }
  const header = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid })).toString('base64url')
  const pool = Array.from({ length: poolSize }, () => {
    const claims = {
      client_id: 'bench-client',
      scope: 'orders:read orders:write',
      iss: issuer,
      sub: 'user-42',
      aud: audience,
      iat: now,
      exp: now + 3600,
      jti: randomUUID(),
    }
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
    return `${input}.${sign(algorithm.digest, Buffer.from(input), signingKey).toString('base64url')}`
  })
  const poolRequests = pool.map((t) => requestWith(`Bearer ${t}`))
  // Each path turns through the pool on its own: the "distinct tokens" path sees every other token
  // before one comes round again, whatever the other paths take.
  const cycle = <T>(items: readonly T[]) => {
    let next = 0
    return () => items[next++ % items.length] as T
  }

  // (a) The floor, what any verifier must do: split, decode the header, the payload and the signature,
  // parse the JSON, check the signature with a key imported beforehand.
  const keyObject: KeyObject = createPublicKey({ key: jwk, format: 'jwk' })
  const verifyKey = { key: keyObject, ...algorithm.options }
  const parts = (jwt: string) => {
    const first = jwt.indexOf('.')
    const last = jwt.lastIndexOf('.')
    const header = JSON.parse(Buffer.from(jwt.slice(0, first), 'base64url').toString('utf8')) as {
      alg?: unknown
    }
    if (header.alg !== alg) throw new Error('unexpected alg')
    return {
      input: Buffer.from(jwt.slice(0, last), 'latin1'),
      signature: Buffer.from(jwt.slice(last + 1), 'base64url'),
      payload: () => JSON.parse(Buffer.from(jwt.slice(first + 1, last), 'base64url').toString('utf8')),
    }
  }
  const floor = (jwt: string): unknown => {
    const { input, signature, payload } = parts(jwt)
    if (!cryptoVerify(algorithm.digest, input, verifyKey, signature)) {
      throw new Error('signature verification failed')
    }
    return payload()
  }
  const floorOnPool = (jwt: string): Promise<unknown> => {
    const { input, signature, payload } = parts(jwt)
    return new Promise((resolve, reject) => {
      cryptoVerify(algorithm.digest, input, verifyKey, signature, (error, valid) => {
        if (error !== null || !valid) reject(error ?? new Error('signature verification failed'))
        else resolve(payload())
      })
    })
  }
  const rawToken = cycle(pool)
  const raw = () => floor(rawToken())
  const rawPoolToken = cycle(pool)
  const rawPool = () => floorOnPool(rawPoolToken())

  // (b) jose alone, with the options jwtBearer used to pass it (5 s tolerance, the RFC 9068 claims).
  const cryptoKey = await importJWK(jwk, alg)
  const joseOptions: JWTVerifyOptions = {
    issuer,
    audience,
    algorithms: [alg],
    typ: 'at+jwt',
    clockTolerance: 5,
    requiredClaims: [...rfc9068Claims],
  }
  const joseToken = cycle(pool)
  const jose = () => jwtVerify(joseToken(), cryptoKey, joseOptions)

  // (c), (d) and (e): the same static JWKS, so no network is involved.
  const options = { issuer, audience, algorithms: [alg], jwks: { keys: [jwk] } }
  const uncached = jwtBearer({ ...options, cache: false })
  const cached = jwtBearer(options)
  const missing = jwtBearer({ ...options, cache: { max: Math.floor(poolSize / 2) } })
  const req = requestWith(`Bearer ${token}`)
  const distinctRequest = cycle(poolRequests)
  const distinct = () => missing.authenticate(distinctRequest())
  const cold = () => uncached.authenticate(req)
  const hit = () => cached.authenticate(req)
  const hitBatched = async () => {
    const start = performance.now()
    for (let i = 0; i < hitBatch; i++) await cached.authenticate(req)
    const elapsed = performance.now() - start
    return { overriddenDuration: elapsed / hitBatch, overriddenIterationCost: elapsed }
  }

  // Every path must succeed, and each must be the path it claims to be: a benchmark of a rejection or
  // of a cache hit labelled "cold" would measure the wrong thing.
  raw()
  await floorOnPool(token)
  await jose()
  const [a, b] = [await cold(), await cold()]
  if (a === b || a.subject !== 'user-42') throw new Error(`${alg}: the uncached path served a cached result`)
  const [c, d] = [await hit(), await hit()]
  if (c !== d || c.subject !== 'user-42') throw new Error(`${alg}: the cached path missed its cache`)
  // A full turn of the pool and one more: the token first seen comes round again and is verified anew.
  const first = await distinct()
  for (let i = 1; i < poolSize; i++) await distinct()
  if ((await distinct()) === first) throw new Error(`${alg}: a distinct token was served from the cache`)

  const syncToken = cycle(pool)
  const poolToken = cycle(pool)
  return {
    algorithm,
    fns: { raw, rawPool, jose, distinct, cold, hit, hitBatch: hitBatched },
    requests: {
      sync: async () => floor(syncToken()),
      pool: () => floorOnPool(poolToken()),
      jwtBearer: async () => distinct(),
    },
  }
}

function requestWith(authorization: string): RequestLike {
  const values: readonly string[] = Object.freeze([authorization])
  const none: readonly string[] = Object.freeze([])
  return {
    method: 'GET',
    origin: undefined,
    target: '/orders',
    path: '/orders',
    headerValues: (name) => (name === 'authorization' ? values : none),
    requestId: undefined,
  }
}

function key(algorithm: Algorithm, path: PathId | InflightId): string {
  return `${algorithm.alg} ${path}`
}

function render(
  summaries: ReadonlyMap<string, Summary>,
  throughputs: ReadonlyMap<string, Throughput>,
  load: { before: number[]; after: number[] },
): string {
  const get = (algorithm: Algorithm, path: PathId): Summary => {
    const summary = summaries.get(key(algorithm, path))
    if (summary === undefined) throw new Error(`no result for ${key(algorithm, path)}`)
    return summary
  }
  const loadText = (values: number[]) => values.map((v) => v.toFixed(2)).join(' ')
  const header = [
    `- ${machineLine()}, ${os.type()} ${os.release()} ${os.arch()}`,
    `- jose ${versionOf('jose')}, tinybench ${versionOf('tinybench')}`,
    `- ${os.availableParallelism()} CPUs available to the process; ${rounds} rounds of ${time} ms per task, paths interleaved (order reversed every other round), samples pooled (250 ms warmup per task first)`,
    `- ${poolSize} distinct tokens per algorithm; the floor, jose and "distinct tokens" paths each cycle through them, the last with a verified-token cache of ${Math.floor(poolSize / 2)}, so that every call is a miss`,
    `- Load average (1, 5, 15 min): ${loadText(load.before)} before, ${loadText(load.after)} after`,
  ]
  const results: string[][] = []
  const goals: string[][] = []
  // With BENCH_ROUNDS=0 only the in-flight part ran.
  for (const algorithm of summaries.size > 0 ? algorithms : []) {
    const floor = get(algorithm, 'raw')
    const jose = get(algorithm, 'jose')
    const distinct = get(algorithm, 'distinct')
    const hit = get(algorithm, 'hitBatch')
    const toFloor = (s: Summary) => `${fixed(s.mean / floor.mean, 2)}× floor`
    const ratios: Record<PathId, string> = {
      raw: 'floor',
      rawPool: `${toFloor(get(algorithm, 'rawPool'))}: the trip to a pool thread and back`,
      jose: toFloor(jose),
      distinct: `${toFloor(distinct)} (${signed(distinct.mean - floor.mean)} µs)`,
      cold: `${toFloor(get(algorithm, 'cold'))}, one token over and over`,
      hit: 'each call timed alone: clock reads and harness await included',
      hitBatch: `mean per call of ${hitBatch} sequential awaits; p50 and p99 of batch means`,
    }
    for (const path of paths) {
      const s = get(algorithm, path.id)
      const digits = s.mean < 10 ? 2 : 1
      results.push([
        algorithm.label,
        path.name,
        fixed(s.mean, digits),
        fixed(s.p50, digits),
        fixed(s.p99, digits),
        Math.round(1e6 / s.mean).toLocaleString('en-US'),
        ratios[path.id],
      ])
    }
    goals.push([
      algorithm.label,
      fixed(jose.p50 / floor.p50, 2),
      fixed(distinct.mean / floor.mean, 3),
      fixed(distinct.p50 / floor.p50, 3),
      signed(distinct.p50 - floor.p50),
      distinct.p50 / floor.p50 <= 1.2 ? 'met' : 'missed',
      fixed(hit.mean, 2),
      hit.mean <= 1 ? 'met' : 'missed',
    ])
  }
  const sections = [...header]
  if (summaries.size > 0) {
    sections.push(
      '',
      markdownTable(
        [
          ['Algorithm', 'left'],
          ['Path', 'left'],
          ['Mean (µs)', 'right'],
          ['p50 (µs)', 'right'],
          ['p99 (µs)', 'right'],
          ['ops/s (1 / mean)', 'right'],
          ['Ratio', 'left'],
        ],
        results,
      ),
      '',
      markdownTable(
        [
          ['Algorithm', 'left'],
          ['jose ÷ floor (p50)', 'right'],
          ['cold ÷ floor (mean)', 'right'],
          ['cold ÷ floor (p50)', 'right'],
          ['cold − floor (p50, µs)', 'right'],
          ['Cold ≤ 1.2× floor (p50)', 'left'],
          ['Cache hit (µs)', 'right'],
          ['Hit ≤ 1 µs', 'left'],
        ],
        goals,
      ),
    )
  }
  if (throughputs.size > 0) {
    const rows: string[][] = []
    for (const algorithm of algorithms) {
      const sync = throughputs.get(key(algorithm, 'sync'))
      for (const path of inflightPaths) {
        const t = throughputs.get(key(algorithm, path.id))
        if (t === undefined || sync === undefined) continue
        rows.push([
          algorithm.label,
          path.name,
          Math.round(t.perSecond).toLocaleString('en-US'),
          fixed(t.perSecond / sync.perSecond, 2),
          fixed(t.cpuMicros, 1),
          fixed(t.utilization, 2),
        ])
      }
    }
    sections.push(
      '',
      `${inflight} requests in flight, ${inflightRounds} interleaved rounds of ${Math.max(time * 2, 500)} ms per path, median per path:`,
      '',
      markdownTable(
        [
          ['Algorithm', 'left'],
          ['Path', 'left'],
          ['Verifications/s', 'right'],
          ['× sync floor', 'right'],
          ['CPU µs per verification', 'right'],
          ['Main thread busy (ELU)', 'right'],
        ],
        rows,
      ),
    )
  }
  return sections.join('\n')
}

function signed(value: number): string {
  return `${value < 0 ? '−' : '+'}${fixed(Math.abs(value), 1)}`
}

function versionOf(name: string): string {
  try {
    const manifest = new URL(`../node_modules/${name}/package.json`, import.meta.url)
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

function fixed(value: number, digits: number): string {
  return value.toFixed(digits)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
