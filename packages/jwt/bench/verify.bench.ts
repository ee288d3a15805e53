// Verification cost of one JWT access token, per algorithm, from the bare signature check up to
// jwtBearer's authenticate(): raw node:crypto, jose alone, jwtBearer without its cache, and a cache hit.
//
// Run: pnpm --filter @zerotrust/jwt bench (or `pnpm bench` at the root). BENCH_TIME (ms per task and
// round), BENCH_ROUNDS and BENCH_OUT (the markdown file written) override the defaults.
import { createPublicKey, verify as cryptoVerify, type KeyObject, randomUUID } from 'node:crypto'
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
const rounds = envInteger('BENCH_ROUNDS', 8)
const out =
  process.env.BENCH_OUT ?? fileURLToPath(new URL('../../../benchmarks/latest/jwt-verify.md', import.meta.url))
// A cache hit is close to the cost of reading the clock, so it is also timed in batches of sequential
// awaits: one sample is the mean of a batch, and the timer's cost is spread over the batch.
const hitBatch = 100

const issuer = 'https://idp.example.com/'
const audience = 'api://orders'

interface Algorithm {
  readonly alg: 'ES256' | 'RS256' | 'EdDSA'
  readonly label: string
  /** The digest node:crypto is given; EdDSA hashes internally. */
  readonly digest: string | null
  /** JWS carries ECDSA signatures as r || s (RFC 7518 §3.4), not DER. */
  readonly dsaEncoding?: 'ieee-p1363'
}

const algorithms: readonly Algorithm[] = [
  { alg: 'ES256', label: 'ES256 (P-256)', digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  { alg: 'RS256', label: 'RS256 (RSA 2048)', digest: 'sha256' },
  { alg: 'EdDSA', label: 'EdDSA (Ed25519)', digest: null },
]

const paths = [
  { id: 'raw', name: 'node:crypto verify (baseline)' },
  { id: 'jose', name: 'jose jwtVerify, imported key' },
  { id: 'cold', name: 'jwtBearer authenticate, cache off' },
  { id: 'hit', name: 'jwtBearer authenticate, cache hit' },
  { id: 'hitBatch', name: `jwtBearer authenticate, cache hit (batches of ${hitBatch})` },
] as const
type PathId = (typeof paths)[number]['id']

interface Subject {
  readonly algorithm: Algorithm
  readonly fns: Readonly<Record<PathId, () => unknown>>
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

  const summaries = new Map<string, Summary>()
  for (const [name, samples] of pooled) summaries.set(name, summarize(samples))
  const report = render(summaries, { before, after: os.loadavg() })
  console.log(report)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${report}\n`)
  console.error(`written to ${out}`)
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

  // (a) What any verifier must do: split, decode the header, the payload and the signature, parse the
  // JSON, check the signature with a key imported beforehand.
  const keyObject: KeyObject = createPublicKey({ key: jwk, format: 'jwk' })
  const verifyKey =
    algorithm.dsaEncoding === undefined ? keyObject : { key: keyObject, dsaEncoding: algorithm.dsaEncoding }
  const raw = (): unknown => {
    const first = token.indexOf('.')
    const last = token.lastIndexOf('.')
    const header = JSON.parse(Buffer.from(token.slice(0, first), 'base64url').toString('utf8')) as {
      alg?: unknown
    }
    if (header.alg !== alg) throw new Error('unexpected alg')
    const signature = Buffer.from(token.slice(last + 1), 'base64url')
    if (!cryptoVerify(algorithm.digest, Buffer.from(token.slice(0, last), 'latin1'), verifyKey, signature)) {
      throw new Error('signature verification failed')
    }
    return JSON.parse(Buffer.from(token.slice(first + 1, last), 'base64url').toString('utf8'))
  }

  // (b) jose alone, with the options jwtBearer passes it (its defaults: 5 s tolerance, RFC 9068 claims).
  const cryptoKey = await importJWK(jwk, alg)
  const joseOptions: JWTVerifyOptions = {
    issuer,
    audience,
    algorithms: [alg],
    typ: 'at+jwt',
    clockTolerance: 5,
    requiredClaims: [...rfc9068Claims],
  }
  const jose = () => jwtVerify(token, cryptoKey, joseOptions)

  // (c) and (d): the same static JWKS, so no network is involved.
  const options = { issuer, audience, algorithms: [alg], jwks: { keys: [jwk] } }
  const uncached = jwtBearer({ ...options, cache: false })
  const cached = jwtBearer(options)
  const req = requestWith(`Bearer ${token}`)
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
  await jose()
  const [a, b] = [await cold(), await cold()]
  if (a === b || a.subject !== 'user-42') throw new Error(`${alg}: the uncached path served a cached result`)
  const [c, d] = [await hit(), await hit()]
  if (c !== d || c.subject !== 'user-42') throw new Error(`${alg}: the cached path missed its cache`)

  return { algorithm, fns: { raw, jose, cold, hit, hitBatch: hitBatched } }
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

function key(algorithm: Algorithm, path: PathId): string {
  return `${algorithm.alg} ${path}`
}

function render(
  summaries: ReadonlyMap<string, Summary>,
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
    `- ${rounds} rounds of ${time} ms per task, paths interleaved (order reversed every other round), samples pooled (250 ms warmup per task first)`,
    `- Load average (1, 5, 15 min): ${loadText(load.before)} before, ${loadText(load.after)} after`,
  ]
  const results: string[][] = []
  const goals: string[][] = []
  for (const algorithm of algorithms) {
    const raw = get(algorithm, 'raw')
    const jose = get(algorithm, 'jose')
    const cold = get(algorithm, 'cold')
    const hit = get(algorithm, 'hitBatch')
    const coldRatio = cold.mean / jose.mean
    const ratios: Record<PathId, string> = {
      raw: 'baseline',
      jose: `${fixed(jose.mean / raw.mean, 2)}× raw`,
      cold: `${fixed(coldRatio, 3)}× jose (${signed(cold.mean - jose.mean)} µs)`,
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
      fixed(jose.mean / raw.mean, 2),
      fixed(coldRatio, 3),
      fixed(cold.p50 / jose.p50, 3),
      signed(cold.mean - jose.mean),
      coldRatio <= 1.05 ? 'met' : 'missed',
      fixed(hit.mean, 2),
      hit.mean <= 1 ? 'met' : 'missed',
    ])
  }
  return [
    ...header,
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
        ['jose ÷ raw', 'right'],
        ['cold ÷ jose (mean)', 'right'],
        ['cold ÷ jose (p50)', 'right'],
        ['cold − jose (µs)', 'right'],
        ['Cold ≤ 1.05× jose', 'left'],
        ['Cache hit (µs)', 'right'],
        ['Hit ≤ 1 µs', 'left'],
      ],
      goals,
    ),
  ].join('\n')
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
