// Cost of one DPoP proof validation at the resource server, next to its floor (one raw ES256
// crypto.verify) and to the naive jose route (import the embedded JWK, verify, thumbprint through
// WebCrypto). Ours is the whole dpop(jwtBearer).authenticate: proof checks, htu, iat, ath, the token
// (served from jwtBearer's cache) and the replay check on the memory store.
//
// Run, after `pnpm build`: pnpm --filter @zerotrust/benchmarks bench:dpop. BENCH_TIME (ms per task)
// overrides the default. It lives here, not in packages/dpop, because it starts the testkit's JWKS server
// for the JWT layer it wraps.
import { createHash, createPublicKey, verify } from 'node:crypto'
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import type { RequestLike } from '@zerotrust/core'
import { dpop, memoryReplayStore } from '@zerotrust/dpop'
import { jwtBearer } from '@zerotrust/jwt'
import {
  createDpopProof,
  generateSigningKey,
  jwkThumbprint,
  signAccessToken,
  startJwksServer,
  toJwks,
} from '@zerotrust/testkit'
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, type JWK, jwtVerify } from 'jose'
import { Bench } from 'tinybench'

const time = envInteger('BENCH_TIME', 1500)
const origin = 'https://api.example.com'
const url = `${origin}/orders`

function request(token: string, proof: string): RequestLike {
  const authorization = [`DPoP ${token}`]
  const dpopHeader = [proof]
  return {
    method: 'GET',
    origin,
    target: '/orders',
    path: '/orders',
    headerValues: (name) => (name === 'authorization' ? authorization : name === 'dpop' ? dpopHeader : []),
  }
}

async function main(): Promise<void> {
  const issuerKey = await generateSigningKey('ES256', 'issuer')
  const clientKey = await generateSigningKey('ES256')
  const jwks = await startJwksServer(toJwks(issuerKey))
  try {
    const token = await signAccessToken(issuerKey, {
      iss: jwks.issuer,
      aud: 'api://orders',
      sub: 'alice',
      client_id: 'web-app',
      cnf: { jkt: await jwkThumbprint(clientKey) },
      exp: Math.floor(Date.now() / 1000) + 3600,
    })
    // Every validation needs a fresh proof (a used jti is refused): make enough of them up front.
    // At most one validation per 60 µs, over the warm-up and the timed run.
    const count = Math.ceil(((time + 500) * 1000) / 60)
    const proofs: string[] = []
    for (let i = 0; i < count; i++)
      proofs.push(await createDpopProof(clientKey, { method: 'GET', url, accessToken: token }))
    const requests = proofs.map((proof) => request(token, proof))
    const tokens = dpop(jwtBearer({ issuer: jwks.issuer, audience: 'api://orders', algorithms: ['ES256'] }), {
      algorithms: ['ES256'],
      replayStore: memoryReplayStore({ maxEntries: count + 10 }),
    })
    await tokens.authenticate(requests.pop() as RequestLike)

    // The floor: one raw ES256 signature check of the same proof, with an imported key.
    const sample = proofs[0] as string
    const dot = sample.lastIndexOf('.')
    const signingInput = Buffer.from(sample.slice(0, dot))
    const signature = Buffer.from(sample.slice(dot + 1), 'base64url')
    const { kid: _k, alg: _a, use: _u, ...publicJwk } = clientKey.publicJwk
    const keyObject = createPublicKey({ key: publicJwk as never, format: 'jwk' })

    let ours = 0
    let naive = 0
    const bench = new Bench(benchOptions(time, { warmupTime: 200 }))
    bench
      .add('raw crypto.verify ES256 (floor)', () => {
        if (!verify('sha256', signingInput, { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature)) {
          throw new Error('signature')
        }
      })
      .add('naive jose: importJWK + jwtVerify + thumbprint + ath', async () => {
        const proof = proofs[naive++ % proofs.length] as string
        const { jwk } = decodeProtectedHeader(proof)
        const key = await importJWK(jwk as JWK, 'ES256')
        const { payload } = await jwtVerify(proof, key, { typ: 'dpop+jwt', algorithms: ['ES256'] })
        await calculateJwkThumbprint(jwk as JWK)
        if (payload.ath !== createHash('sha256').update(token).digest('base64url')) throw new Error('ath')
      })
      .add('dpop(jwtBearer).authenticate, memory replay store', async () => {
        const req = requests[ours++]
        if (req === undefined) throw new Error('out of proofs: raise the count')
        await tokens.authenticate(req)
      })
    await bench.run()

    report(bench, { baseline: 'raw crypto.verify ES256 (floor)' })
  } finally {
    await jwks.close()
  }
}

await main()
