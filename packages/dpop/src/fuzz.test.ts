// Issue 12 (reliability suite): the DPoP header and proof JWS parsing, fed hostile proofs, proofs signed
// by the right key over hostile headers and claims, and 64 KiB adversarial input. Nothing may escape
// but a ZeroTrustError of a 4xx, and each request is handled within a time bound.
import { createHash, KeyObject, sign } from 'node:crypto'
import type { Auth, RequestLike } from '@zerotrust/core'
import { isZeroTrustError } from '@zerotrust/core'
import { createDpopProof, generateSigningKey, jwkThumbprint, type SigningKey } from '@zerotrust/testkit'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { dpop, type TokenAuthenticator } from './dpop.js'

const origin = 'https://api.example.com'
const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl'
const boundMs = 100
const size = 64 * 1024

let clientKey: SigningKey
let thumbprint: string
let publicJwk: Record<string, unknown>
let privateKey: KeyObject

beforeAll(async () => {
  clientKey = await generateSigningKey('ES256')
  thumbprint = await jwkThumbprint(clientKey)
  privateKey = KeyObject.from(clientKey.privateKey)
  const { kid: _kid, use: _use, alg: _alg, ...jwk } = clientKey.publicJwk as Record<string, unknown>
  publicJwk = jwk
})

/** A token layer that knows one token, bound to the client's key: no network, the proof is what is tested. */
function inner(): TokenAuthenticator {
  const auth = (): Auth => ({
    subject: 'alice',
    issuer: 'https://idp.example.com/',
    audience: ['api://orders'],
    clientId: 'web',
    scopes: [],
    claims: {},
    scheme: 'DPoP',
    format: 'jwt',
    expiresAt: undefined,
    cnf: { jkt: thumbprint },
  })
  return {
    layer: 'jwt',
    authenticate: async () => auth(),
    verify: async () => auth(),
  }
}

function request(authorization: string, proofs: readonly string[]): RequestLike {
  const headers: Record<string, readonly string[]> = { authorization: [authorization], dpop: proofs }
  return {
    method: 'POST',
    origin,
    target: '/orders?x=1',
    path: '/orders',
    headerValues: (name) => headers[name.toLowerCase()] ?? [],
  }
}

/** Authenticates `req`, letting out only a ZeroTrustError of a 4xx, within the bound (a slow run is retried four times: a loaded machine pauses). */
async function expectFourXxFast(run: () => Promise<unknown>, label: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const started = performance.now()
    try {
      await run()
    } catch (thrown) {
      if (!isZeroTrustError(thrown)) throw thrown
      expect(thrown.status, `${thrown.code} ${thrown.reason}`).toBeGreaterThanOrEqual(400)
      expect(thrown.status, `${thrown.code} ${thrown.reason}`).toBeLessThan(500)
    }
    const took = performance.now() - started
    if (took < boundMs) return
    if (attempt === 4) expect.fail(`${label}: ${took.toFixed(1)} ms for one request`)
  }
}

const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url')

const nasty = ['.', 'a.', '..', '=', '%', ',', ' ', 'A', '-', '_', '"', '{', 'eyJ', 'e30.']
const adversarial = fc
  .tuple(
    fc.constantFrom('', 'eyJ', 'a.b.', 'e30.e30.'),
    fc.constantFrom(...nasty),
    fc.constantFrom('', '.', '!'),
  )
  .map(([prefix, unit, tail]) => `${prefix}${unit.repeat(Math.ceil(size / unit.length))}${tail}`)
const hostile = fc.oneof(
  fc.string({ maxLength: 60, unit: 'binary' }),
  fc.string({ maxLength: 60, unit: 'binary-ascii' }),
)
const anyJson = fc.oneof(hostile, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.object())

/** A proof signed by the client's key over hostile header members and claims, so every check is reached. */
// Mostly the right value, sometimes a hostile one: each proof fails at most a check or two, so the
// fuzz reaches the later checks (claims, htu, iat, ath, replay) as well as the first ones.
const mostly = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: anyJson as fc.Arbitrary<unknown> })
const signedProof = fc
  .record({
    typ: mostly(fc.constantFrom('dpop+jwt', 'application/dpop+jwt', 'DPOP+JWT')),
    alg: mostly(fc.constant('ES256')),
    jwk: fc.oneof(
      { weight: 8, arbitrary: fc.constant('client') },
      {
        weight: 1,
        arbitrary: fc.record({
          kty: fc.constantFrom('EC', 'RSA', 'OKP', 'oct'),
          crv: anyJson,
          x: anyJson,
          y: anyJson,
          d: anyJson,
        }),
      },
      { weight: 1, arbitrary: anyJson },
    ),
    crit: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: anyJson }),
    htm: mostly(fc.constant('POST')),
    htu: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          `${origin}/orders`,
          `${origin}/%6Frders`,
          `${origin}/orders/../orders`,
          'http://[::1',
        ),
      },
      { weight: 2, arbitrary: hostile.map((path) => `${origin}/${path}`) },
      { weight: 1, arbitrary: anyJson },
    ),
    iat: mostly(fc.constantFrom('now', -1, 1e12)),
    jti: mostly(fc.uuid()),
    ath: mostly(fc.constant('right')),
    nonce: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: anyJson }),
  })
  .map((p) => {
    const header = { typ: p.typ, alg: p.alg, jwk: p.jwk === 'client' ? publicJwk : p.jwk, crit: p.crit }
    const payload = {
      htm: p.htm,
      htu: p.htu,
      iat: p.iat === 'now' ? Math.floor(Date.now() / 1000) : p.iat,
      jti: p.jti,
      ath: p.ath === 'right' ? createHash('sha256').update(token).digest('base64url') : p.ath,
      nonce: p.nonce,
    }
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`
    const signature = sign('sha256', Buffer.from(input), {
      key: privateKey,
      dsaEncoding: 'ieee-p1363',
    })
    return `${input}.${b64(signature)}`
  })

describe('fuzz: DPoP header and proof (issue 12)', () => {
  it('accepts a well-formed proof (the fuzzed checks are reachable)', async () => {
    const layer = dpop(inner(), { required: true })
    const proof = await createDpopProof(clientKey, {
      method: 'POST',
      url: `${origin}/orders`,
      accessToken: token,
    })
    await expect(layer.authenticate(request(`DPoP ${token}`, [proof]))).resolves.toMatchObject({
      subject: 'alice',
    })
  })

  it('answers any DPoP header with an Auth or a 4xx, within the bound', async () => {
    const layer = dpop(inner(), { required: true })
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostile, adversarial), fc.boolean(), async (proof, twice) => {
        const req = request(`DPoP ${token}`, twice ? [proof, proof] : [proof])
        await expectFourXxFast(() => layer.authenticate(req), 'DPoP header')
      }),
      { numRuns: 150, endOnFailure: true },
    )
  })

  it('answers any Authorization header beside a proof with an Auth or a 4xx, within the bound', async () => {
    const layer = dpop(inner())
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostile, adversarial), async (authorization) => {
        await expectFourXxFast(() => layer.authenticate(request(authorization, ['a.b.c'])), 'Authorization')
      }),
      { numRuns: 150, endOnFailure: true },
    )
  })

  it('answers proofs signed by the bound key over hostile headers and claims with an Auth or a 4xx', async () => {
    const layer = dpop(inner(), { required: true })
    await fc.assert(
      fc.asyncProperty(signedProof, async (proof) => {
        await expectFourXxFast(() => layer.authenticate(request(`DPoP ${token}`, [proof])), 'signed proof')
      }),
      { numRuns: 200, endOnFailure: true },
    )
  })
})
