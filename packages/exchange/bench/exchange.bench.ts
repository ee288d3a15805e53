// Cost of an internal token at the edge (issue 17): minting one (the bound: 1.2× one raw ES256
// signature) and handing out a fresh one again for the same user, audience and scope (the bound: 2 µs),
// next to their floors: node:crypto's ES256 signature of an input of the same length, and jose's
// SignJWT for the same claims. Rounds run one after another in one process and are reported apart, so
// a loaded machine shows as spread between rounds rather than as one number.
//
// Run: pnpm --filter @zerotrust/exchange bench. BENCH_TIME (ms per task) and ROUNDS override the defaults.
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto'
import { loadavg } from 'node:os'
import { benchOptions, envInteger, report, samplesOf } from '@zerotrust/benchkit'
import type { Auth } from '@zerotrust/core'
import { SignJWT } from 'jose'
import { Bench } from 'tinybench'
import { internalTokens } from '../src/index.js'

const time = envInteger('BENCH_TIME', 1000)
const rounds = envInteger('ROUNDS', 3)
const signBatch = 10
const hitBatch = 100

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
  format: 'pem',
  type: 'pkcs8',
}) as string
const key = createPrivateKey(pem)
const edge = 'spiffe://prod.example.com/ns/shop/sa/edge'
const now = Math.floor(Date.now() / 1000)
const auth: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: ['api://edge'],
  clientId: 'web',
  scopes: ['orders:read', 'orders:write', 'billing:read'],
  claims: { sub: 'alice', iss: 'https://idp.example.com/', exp: now + 3600 },
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: now + 3600,
  cnf: undefined,
}

async function main(): Promise<void> {
  const uncached = internalTokens({
    issuer: 'https://edge.internal/',
    keys: { current: () => pem },
    actor: edge,
    maxCachedTokens: 0,
  })
  const cached = internalTokens({
    issuer: 'https://edge.internal/',
    keys: { current: () => pem },
    actor: edge,
  })
  const request = { audience: 'api://orders', scope: 'orders:read' }
  const sample = uncached.mint(auth, request).value
  // The same signing input length as a minted token's, so the floor signs what mint signs.
  const input = Buffer.from(sample.slice(0, sample.lastIndexOf('.')))
  cached.mint(auth, request)
  const claims = JSON.parse(Buffer.from(sample.split('.')[1] as string, 'base64url').toString()) as Record<
    string,
    unknown
  >
  let sink = 0
  // The least sample of each task over all rounds: on a shared machine, the closest to its own cost.
  const least = new Map<string, number>()

  console.log(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; signing input ${input.length} bytes`,
  )
  for (let round = 1; round <= rounds; round++) {
    const bench = new Bench(benchOptions(time))
    bench
      .add('node: crypto.sign ES256 (ieee-p1363)', () => {
        for (let i = 0; i < signBatch; i++)
          sink += sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' }).length
      })
      .add('internalTokens.mint, no reuse', () => {
        for (let i = 0; i < signBatch; i++) sink += uncached.mint(auth, request).value.length
      })
      .add('jose: new SignJWT(claims).sign(key)', async () => {
        for (let i = 0; i < signBatch; i++) {
          sink += (
            await new SignJWT({ ...claims, jti: randomUUID() })
              .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
              .sign(key)
          ).length
        }
      })
      .add('internalTokens.mint, reused (cache hit)', () => {
        for (let i = 0; i < hitBatch; i++) sink += cached.mint(auth, request).expiresAt & 1
      })
    await bench.run()
    for (const task of bench.tasks) {
      const perCall = Math.min(...samplesOf(task)) / (task.name.includes('cache hit') ? hitBatch : signBatch)
      least.set(task.name, Math.min(least.get(task.name) ?? Number.POSITIVE_INFINITY, perCall))
    }
    report(bench, {
      title: `round ${round} of ${rounds}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
      baseline: 'node: crypto.sign ES256 (ieee-p1363)',
      batches: {
        'node: crypto.sign ES256 (ieee-p1363)': signBatch,
        'internalTokens.mint, no reuse': signBatch,
        'jose: new SignJWT(claims).sign(key)': signBatch,
        'internalTokens.mint, reused (cache hit)': hitBatch,
      },
    })
  }
  const floor = least.get('node: crypto.sign ES256 (ieee-p1363)') as number
  console.log('least sample per call over all rounds (µs):')
  for (const [name, ms] of least) {
    console.log(`  ${name}: ${(ms * 1000).toFixed(2)} (${(ms / floor).toFixed(2)}× the raw signature)`)
  }
  if (sink === 0) throw new Error('nothing was measured')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
