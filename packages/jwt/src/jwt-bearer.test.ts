import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { renderError } from '@zerotrust/core'
import { presentedToken } from '@zerotrust/core/layer'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  audience,
  bearer,
  claims,
  headers,
  hmacToken,
  issuer,
  sign,
  signBytes,
  type TestKey,
  testKey,
  unsecuredToken,
} from '../test/fixtures.js'
import { type JwtBearerOptions, jwtBearer } from './index.js'

// Every signature check is one node:crypto verify (lib/signature.ts): counting its calls tells a cache hit
// from a verification. The real function runs.
const signatureChecks = vi.hoisted(() => ({ count: 0 }))
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  const verify = ((...args: Parameters<typeof actual.verify>) => {
    signatureChecks.count++
    return actual.verify(...args)
  }) as typeof actual.verify
  return { ...actual, default: { ...actual, verify }, verify }
})

let es256: TestKey
let rs256: TestKey
let eddsa: TestKey
let attacker: TestKey

beforeAll(async () => {
  ;[es256, rs256, eddsa, attacker] = await Promise.all([
    testKey('ES256', 'es-1'),
    testKey('RS256', 'rs-1'),
    testKey('EdDSA', 'ed-1'),
    testKey('ES256', 'es-1'),
  ])
})

const verifier = (overrides: Partial<JwtBearerOptions> = {}) =>
  jwtBearer({
    issuer,
    audience,
    algorithms: ['ES256', 'RS256', 'EdDSA'],
    jwks: { keys: [es256.publicJwk, rs256.publicJwk, eddsa.publicJwk] },
    realm: 'orders',
    ...overrides,
  } as JwtBearerOptions)

/** Authenticates and renders the failure as an adapter would: `{ code, reason, status, challenge }`. */
async function rejection(token: string | ReturnType<typeof bearer>, options?: Partial<JwtBearerOptions>) {
  const req = typeof token === 'string' ? bearer(token) : token
  try {
    await verifier(options).authenticate(req)
  } catch (error) {
    const { status, headers } = renderError(error)
    const { code, reason } = error as { code: string; reason?: string }
    return { code, reason, status, challenge: headers['www-authenticate'] }
  }
  throw new Error('the request was accepted')
}

const invalidToken = (reason: string) => ({
  code: 'invalid_token',
  reason,
  status: 401,
  challenge: expect.stringMatching(
    /^Bearer realm="orders", error="invalid_token", error_description="[^"]+"$/,
  ),
})

describe('jwtBearer: accepted tokens', () => {
  it.each(['ES256', 'RS256', 'EdDSA'])('verifies an RFC 9068 token signed with %s', async (alg) => {
    const key = { ES256: es256, RS256: rs256, EdDSA: eddsa }[alg] as TestKey
    const auth = await verifier().authenticate(
      bearer(await sign(key, claims({ scope: 'orders:read orders:write' }))),
    )
    expect(auth).toMatchObject({
      subject: 'alice',
      issuer,
      audience: [audience],
      clientId: 'web-app',
      scopes: ['orders:read', 'orders:write'],
      scheme: 'Bearer',
      format: 'jwt',
      cnf: undefined,
    })
    expect(auth.expiresAt).toBeTypeOf('number')
    expect(Object.isFrozen(auth.claims)).toBe(true)
  })

  it('accepts the scheme in lower case (RFC 9110 §11.1: auth-schemes are case-insensitive)', async () => {
    const token = await sign(es256)
    const auth = await verifier().authenticate(headers({ authorization: [`bearer ${token}`] }))
    expect(auth.subject).toBe('alice')
  })

  it('reads scopes from an "scp" array', async () => {
    const token = await sign(es256, claims({ scope: undefined, scp: ['a', 'b'] }))
    expect((await verifier().authenticate(bearer(token))).scopes).toEqual(['a', 'b'])
  })

  it('accepts audience arrays containing ours and application/at+jwt', async () => {
    const token = await sign(es256, claims({ aud: ['other', audience] }), { typ: 'application/at+jwt' })
    expect((await verifier().authenticate(bearer(token))).audience).toEqual(['other', audience])
  })

  it('records the accepted token for an exchange, out of sight, also on a cache hit (issue 17)', async () => {
    const tokens = verifier()
    const token = await sign(es256)
    const cold = await tokens.authenticate(bearer(token))
    const hit = await tokens.authenticate(bearer(token))
    expect(presentedToken(cold)).toBe(token)
    expect(presentedToken(hit)).toBe(token)
    expect(presentedToken(await tokens.verify(token))).toBe(token)
    expect(JSON.stringify(cold)).not.toContain(token)
    expect(inspect(cold, { depth: 10 })).not.toContain(token)
  })
})

describe('jwtBearer: every rule has a token that breaks it', () => {
  it('answers a request without credentials with a bare challenge (RFC 6750 §3.1)', async () => {
    expect(await rejection(headers({}))).toEqual({
      code: 'missing_credentials',
      reason: undefined,
      status: 401,
      challenge: 'Bearer realm="orders"',
    })
    expect((await rejection(headers({ authorization: ['Basic dTpw'] }))).code).toBe('missing_credentials')
  })

  it('rejects alg "none"', async () => {
    expect(await rejection(unsecuredToken(claims()))).toEqual(invalidToken('algorithm'))
  })

  it('rejects an HS256 token signed with the issuer RSA public key (algorithm confusion)', async () => {
    const token = hmacToken({ alg: 'HS256', typ: 'at+jwt', kid: rs256.kid }, claims(), rs256.publicPem)
    expect(await rejection(token)).toEqual(invalidToken('algorithm'))
  })

  it('rejects an algorithm the key does not declare (JWK "alg" must equal the header "alg")', async () => {
    const rs384 = await testKey('RS384', 'rs-1')
    // Same kid as the RS256 key, signed by a key of another alg: the RS256 JWK may not verify it.
    const token = await sign(rs384, claims())
    expect(await rejection(token, { algorithms: ['RS256', 'RS384'] })).toEqual(invalidToken('unknown_key'))
  })

  it('rejects a signature by another key with a known kid', async () => {
    expect(await rejection(await sign(attacker))).toEqual(invalidToken('signature'))
  })

  it('rejects an unknown kid', async () => {
    const stranger = await testKey('ES256', 'never-published')
    expect(await rejection(await sign(stranger))).toEqual(invalidToken('unknown_key'))
  })

  it('does not serve the key chosen for a token without "kid" to one with "kid": "" (issue 14)', async () => {
    // One ES256 key in the set: a token without "kid" is verified with it, and the key is remembered.
    const tokens = verifier({ jwks: { keys: [es256.publicJwk] }, algorithms: ['ES256'] })
    await expect(tokens.verify(await sign(es256, claims(), { kid: undefined }))).resolves.toBeDefined()
    // jose matches "kid": "" only to a key whose "kid" is "": none here.
    expect(
      await rejection(await sign(es256, claims(), { kid: '' }), { jwks: { keys: [es256.publicJwk] } }),
    ).toEqual(invalidToken('unknown_key'))
    await expect(tokens.verify(await sign(es256, claims(), { kid: '' }))).rejects.toMatchObject({
      reason: 'unknown_key',
    })
  })

  it('treats a kid with path characters as an opaque unknown string', async () => {
    const sneaky = await testKey('ES256', '../../../etc/passwd')
    expect(await rejection(await sign(sneaky))).toEqual(invalidToken('unknown_key'))
  })

  describe('keys named in the token header', () => {
    let server: Server
    let url: string
    const hits: string[] = []
    beforeAll(async () => {
      server = createServer((req, res) => {
        hits.push(req.url ?? '')
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ keys: [attacker.publicJwk] }))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })
    afterAll(() => new Promise((resolve) => server.close(resolve)))

    it('never fetches keys from "jku" or "x5u"', async () => {
      const token = await sign(attacker, claims(), { jku: `${url}/jwks`, x5u: `${url}/cert.pem` })
      expect(await rejection(token)).toEqual(invalidToken('signature'))
      expect(hits).toEqual([])
    })

    it('never uses an embedded "jwk" or "x5c"', async () => {
      const token = await sign(attacker, claims(), { jwk: attacker.publicJwk, x5c: ['MIIB'] })
      expect(await rejection(token)).toEqual(invalidToken('signature'))
      const kidless = await sign(attacker, claims(), { kid: undefined, jwk: attacker.publicJwk })
      expect((await rejection(kidless)).code).toBe('invalid_token')
      expect(hits).toEqual([])
    })
  })

  it('rejects another issuer', async () => {
    expect(await rejection(await sign(es256, claims({ iss: 'https://evil.example.com/' })))).toEqual(
      invalidToken('claim:iss'),
    )
    // No normalization: a missing trailing slash is another issuer.
    expect((await rejection(await sign(es256, claims({ iss: 'https://idp.example.com' })))).reason).toBe(
      'claim:iss',
    )
  })

  it('rejects another audience', async () => {
    expect(await rejection(await sign(es256, claims({ aud: 'api://billing' })))).toEqual(
      invalidToken('claim:aud'),
    )
  })

  it('rejects an expired token beyond the clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000)
    expect(await rejection(await sign(es256, claims({ iat: now - 600, exp: now - 6 })))).toEqual(
      invalidToken('expired'),
    )
    // Within the 5 s tolerance it still passes.
    await expect(
      verifier().authenticate(bearer(await sign(es256, claims({ exp: now - 2 })))),
    ).resolves.toBeDefined()
  })

  it('rejects a token that is not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000)
    expect(await rejection(await sign(es256, claims({ nbf: now + 60 })))).toEqual(
      invalidToken('not_yet_valid'),
    )
  })

  it('rejects an ID token (typ "JWT") and a token without typ', async () => {
    expect(await rejection(await sign(es256, claims(), { typ: 'JWT' }))).toEqual(invalidToken('typ'))
    expect(await rejection(await sign(es256, claims(), { typ: undefined }))).toEqual(invalidToken('typ'))
  })

  it('rejects an unknown critical header parameter', async () => {
    const token = await sign(
      es256,
      claims(),
      { crit: ['urn:example:must-understand'], 'urn:example:must-understand': 1 },
      { 'urn:example:must-understand': true },
    )
    expect(await rejection(token)).toEqual(invalidToken('unsupported'))
  })

  it('rejects a token missing an RFC 9068 claim', async () => {
    expect(await rejection(await sign(es256, claims({ jti: undefined })))).toEqual(
      invalidToken('missing_claim:jti'),
    )
    expect(await rejection(await sign(es256, claims({ client_id: undefined })))).toEqual(
      invalidToken('missing_claim:client_id'),
    )
  })

  it('rejects identifier claims of the wrong type', async () => {
    expect(await rejection(await sign(es256, claims({ sub: 42 as unknown as string })))).toEqual(
      invalidToken('claim:sub'),
    )
    expect(await rejection(await sign(es256, claims({ scope: ['a'] as unknown as string })))).toEqual(
      invalidToken('claim:scope'),
    )
  })

  it('rejects a 100 KiB token before parsing it', async () => {
    const huge = `${'a'.repeat(50 * 1024)}.${'b'.repeat(50 * 1024)}.c`
    expect(await rejection(huge)).toEqual(invalidToken('token_too_large'))
  })

  it('rejects broken base64 and a JSON array as payload', async () => {
    const good = await sign(es256)
    const [h, , s] = good.split('.')
    expect(await rejection(`${h}.!!!!.${s}`)).toMatchObject({ code: 'invalid_request' })
    // The signature is checked before the payload is read: a tampered payload is a bad signature.
    expect(await rejection(`${h}.e30x.${s}`)).toEqual(invalidToken('signature'))
    expect(await rejection(await signBytes(es256, '{"sub": "alice"'))).toEqual(invalidToken('malformed'))
    expect(await rejection(await signBytes(es256, '[1,2]'))).toEqual(invalidToken('malformed'))
    expect(await rejection(`${Buffer.from('{"alg":').toString('base64url')}.e30.${s}`)).toEqual(
      invalidToken('malformed'),
    )
  })

  it('rejects two Authorization headers as invalid_request', async () => {
    const token = await sign(es256)
    expect(await rejection(bearer(token, { extra: [`Bearer ${token}`] }))).toEqual({
      code: 'invalid_request',
      reason: 'multiple_credentials',
      status: 400,
      challenge: expect.stringContaining('error="invalid_request"'),
    })
  })

  it('rejects a token in the query string', async () => {
    const token = await sign(es256)
    expect(await rejection(headers({}, `/orders?access_token=${token}`))).toMatchObject({
      code: 'invalid_request',
      reason: 'token_in_query',
    })
  })

  it('rejects a DPoP-bound token presented as a bearer token (RFC 9449 §7.2)', async () => {
    const token = await sign(es256, claims({ cnf: { jkt: 'aGVsbG8' } }))
    expect(await rejection(token)).toEqual(invalidToken('dpop_bound'))
  })

  it('rejects a certificate-bound token without that certificate (RFC 8705 §3)', async () => {
    const der = new Uint8Array([48, 3, 2, 1, 1])
    const thumbprint = (await import('node:crypto')).createHash('sha256').update(der).digest('base64url')
    const token = await sign(es256, claims({ cnf: { 'x5t#S256': thumbprint } }))
    expect(await rejection(token)).toEqual(invalidToken('certificate_mismatch'))
    const withCert = { ...bearer(token), peerCertificate: () => ({ raw: der }) }
    expect((await verifier().authenticate(withCert)).cnf).toEqual({ 'x5t#S256': thumbprint })
    const otherCert = { ...bearer(token), peerCertificate: () => ({ raw: new Uint8Array([1]) }) }
    expect(await rejection(otherCert)).toEqual(invalidToken('certificate_mismatch'))
  })

  it('rejects a token older than maxTokenAgeSeconds, or its deprecated name maxTokenAge (issue 13)', async () => {
    const now = Math.floor(Date.now() / 1000)
    const old = await sign(es256, claims({ iat: now - 120 }))
    expect(await rejection(old, { maxTokenAgeSeconds: 60 })).toEqual(invalidToken('too_old'))
    expect(await rejection(old, { maxTokenAge: 60 })).toEqual(invalidToken('too_old'))
  })
})

describe('jwtBearer: "iat" in the future and non-canonical encodings (issue 12)', () => {
  it('refuses a token issued beyond the clock tolerance in the future, without maxTokenAge', async () => {
    const now = Math.floor(Date.now() / 1000)
    const future = await sign(es256, claims({ iat: now + 3600, exp: now + 7200 }))
    expect(await rejection(future)).toEqual(invalidToken('iat_in_future'))
    // With maxTokenAge jose finds it first; the reason is the same.
    expect(await rejection(future, { maxTokenAge: 600 })).toEqual(invalidToken('iat_in_future'))
    // Within the 5 s tolerance a fast issuer clock is fine.
    await expect(
      verifier().authenticate(bearer(await sign(es256, claims({ iat: now + 3 })))),
    ).resolves.toBeDefined()
    // Without "iat" (typ: false drops it from the required claims) there is nothing to check.
    const untyped = await sign(es256, claims({ iat: undefined }), { typ: 'JWT' })
    await expect(
      Promise.resolve(verifier({ typ: false }).authenticate(bearer(untyped))),
    ).resolves.toBeDefined()
  })

  it('refuses a signature whose last character is a sibling that decodes to the same bytes', async () => {
    const tokens = verifier()
    const token = await sign(es256)
    const resigned = nonCanonical(token, 2)
    // The re-encoding carries the very same signature bytes: only its spelling differs.
    expect(Buffer.from(resigned.split('.')[2] as string, 'base64url')).toEqual(
      Buffer.from(token.split('.')[2] as string, 'base64url'),
    )
    expect(await rejection(resigned)).toEqual(invalidToken('non_canonical_encoding'))
    // Neither before nor after the canonical token is cached does the other spelling get through.
    await tokens.authenticate(bearer(token))
    await expect(Promise.resolve(tokens.authenticate(bearer(resigned)))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'non_canonical_encoding',
    })
    await expect(tokens.verify(resigned)).rejects.toMatchObject({ reason: 'non_canonical_encoding' })
  })

  it('refuses a header or payload with non-canonical trailing bits', async () => {
    for (let pad = 0; ; pad++) {
      // Find claims whose payload segment has unused bits (a length that is not a multiple of 4).
      const token = await sign(es256, claims({ pad: 'x'.repeat(pad) }))
      const [header, payload] = token.split('.') as [string, string]
      if (payload.length % 4 === 0) continue
      expect(await rejection(nonCanonical(token, 1))).toEqual(invalidToken('non_canonical_encoding'))
      if (header.length % 4 !== 0) {
        expect(await rejection(nonCanonical(token, 0))).toEqual(invalidToken('non_canonical_encoding'))
      }
      break
    }
    const token = await sign(es256)
    const [h, p, sig] = token.split('.') as [string, string, string]
    // Padding (which RFC 6750 token syntax allows) is not JWS base64url either (RFC 7515 §2).
    expect(await rejection(`${h}.${p}.${sig}==`)).toEqual(invalidToken('non_canonical_encoding'))
  })
})

/** The token with segment `index` spelt with non-zero unused trailing bits: the same bytes decoded. */
function nonCanonical(token: string, index: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const parts = token.split('.')
  const segment = parts[index] as string
  const unused = segment.length % 4 === 2 ? 0b1111 : segment.length % 4 === 3 ? 0b11 : 0
  if (unused === 0) throw new Error('this segment has no unused bits')
  const last = alphabet.indexOf(segment.at(-1) as string)
  parts[index] = `${segment.slice(0, -1)}${alphabet[last | 1]}`
  expect(Buffer.from(parts[index] as string, 'base64url')).toEqual(Buffer.from(segment, 'base64url'))
  return parts.join('.')
}

describe('jwtBearer: verified-token cache', () => {
  it('serves a repeated token without any signature check', async () => {
    const tokens = verifier()
    const token = await sign(es256)
    const before = signatureChecks.count
    await tokens.authenticate(bearer(token))
    const cold = signatureChecks.count - before
    const again = await tokens.authenticate(bearer(token))
    expect(cold).toBe(1)
    expect(signatureChecks.count - before).toBe(1)
    expect(again.subject).toBe('alice')
  })

  it('keys entries by the whole token: a tampered copy of a cached token is verified and rejected', async () => {
    const tokens = verifier()
    const token = await sign(es256)
    await tokens.authenticate(bearer(token))
    // Flip the first signature character (the last one may only carry unused padding bits).
    const at = token.lastIndexOf('.') + 1
    const tampered = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`
    await expect(Promise.resolve(tokens.authenticate(bearer(tampered)))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'signature',
    })
  })

  it('never serves a cached entry to another token with the same ending', async () => {
    const tokens = verifier()
    const token = await sign(es256)
    await tokens.authenticate(bearer(token))
    // Same last characters (the cache key), another header: the entry holds the whole token and refuses it.
    const lookalike = `${token[0] === 'e' ? 'f' : 'e'}${token.slice(1)}`
    await expect(Promise.resolve(tokens.authenticate(bearer(lookalike)))).rejects.toMatchObject({
      code: 'invalid_token',
    })
  })

  it('still checks the token syntax on a miss', async () => {
    const tokens = verifier()
    const token = await sign(es256)
    await tokens.authenticate(bearer(token))
    await expect(Promise.resolve(tokens.authenticate(bearer(`${token}"`)))).rejects.toMatchObject({
      code: 'invalid_request',
      reason: 'malformed_authorization',
    })
  })

  it('never serves a cached token past its exp', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const tokens = verifier({ clockTolerance: 0 })
      const now = Math.floor(Date.now() / 1000)
      const token = await sign(es256, claims({ exp: now + 30 }))
      await tokens.authenticate(bearer(token))
      vi.setSystemTime((now + 31) * 1000)
      await expect(Promise.resolve(tokens.authenticate(bearer(token)))).rejects.toMatchObject({
        reason: 'expired',
      })
    } finally {
      vi.useRealTimers()
    }
  })

  it('still checks a DPoP binding on a cache hit', async () => {
    const tokens = verifier()
    const token = await sign(es256, claims({ cnf: { jkt: 'aGVsbG8' } }))
    await expect(tokens.verify(token, { binding: 'checked-by-caller' })).resolves.toMatchObject({
      cnf: { jkt: 'aGVsbG8' },
    })
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).rejects.toMatchObject({
      reason: 'dpop_bound',
    })
    // Without a proof to check it against, verify() refuses a bound token too.
    await expect(tokens.verify(token)).rejects.toMatchObject({ reason: 'dpop_bound' })
  })

  it('can be turned off', async () => {
    const tokens = verifier({ cache: false })
    const token = await sign(es256)
    const before = signatureChecks.count
    await tokens.authenticate(bearer(token))
    await tokens.authenticate(bearer(token))
    expect(signatureChecks.count - before).toBe(2)
  })
})

describe('jwtBearer: hardening', () => {
  it('adds requiredClaims to the baseline instead of replacing it', async () => {
    const tokens = verifier({ requiredClaims: ['tenant'] })
    await expect(
      tokens.authenticate(bearer(await sign(es256, claims({ tenant: 'a', exp: undefined })))),
    ).rejects.toMatchObject({
      reason: 'missing_claim:exp',
    })
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await sign(es256, claims())))),
    ).rejects.toMatchObject({
      reason: 'missing_claim:tenant',
    })
    await expect(
      Promise.resolve(tokens.authenticate(bearer(await sign(es256, claims({ tenant: 'a' }))))),
    ).resolves.toBeDefined()
  })

  it('bounds and checks a bare token given to verify()', async () => {
    await expect(verifier().verify('a'.repeat(9000))).rejects.toMatchObject({ reason: 'token_too_large' })
    await expect(verifier().verify('not a token')).rejects.toMatchObject({ code: 'invalid_request' })
  })

  it('answers a failing secret getter with 503, not 500 or 401', async () => {
    const tokens = jwtBearer({
      issuer,
      audience,
      algorithms: ['HS256'],
      secret: async () => {
        throw new Error('vault sealed')
      },
    })
    const token = hmacToken({ alg: 'HS256', typ: 'at+jwt' }, claims(), 'x'.repeat(32))
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).rejects.toMatchObject({
      code: 'dependency_unavailable',
      reason: 'secret_unavailable',
      status: 503,
    })
  })

  it('ignores an RSA key under 2048 bits in the JWKS (RFC 7518 §3.3)', async () => {
    // jose will not make a 1024-bit RSA key, so node:crypto makes and signs with one.
    const { generateKeyPairSync, sign: rsaSign } = await import('node:crypto')
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const jwk = { ...weak.publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS256' }
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const input = `${b64({ alg: 'RS256', kid: 'weak', typ: 'at+jwt' })}.${b64(claims())}`
    const token = `${input}.${rsaSign('sha256', Buffer.from(input), weak.privateKey).toString('base64url')}`
    const tokens = jwtBearer({ issuer, audience, algorithms: ['RS256'], jwks: { keys: [jwk] } })
    await expect(Promise.resolve(tokens.authenticate(bearer(token)))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'unknown_key',
    })
  })

  it('accepts only Bearer requests with a JWT shape (for anyOf)', async () => {
    const token = await sign(es256)
    const tokens = verifier()
    expect(tokens.accepts?.(bearer(token))).toBe(true)
    expect(tokens.accepts?.(headers({ authorization: [`DPoP ${token}`] }))).toBe(false)
    expect(tokens.accepts?.(bearer('opaque-token'))).toBe(false)
  })
})

describe('jwtBearer: HMAC', () => {
  const secret = 'a-shared-secret-of-at-least-32-bytes!'
  const hs = (payload = claims(), key = secret) => hmacToken({ alg: 'HS256', typ: 'at+jwt' }, payload, key)

  it('verifies with an explicit secret', async () => {
    const tokens = jwtBearer({ issuer, audience, algorithms: ['HS256'], secret })
    expect((await tokens.authenticate(bearer(hs()))).subject).toBe('alice')
    await expect(
      Promise.resolve(tokens.authenticate(bearer(hs(claims(), `${secret}x`)))),
    ).rejects.toMatchObject({
      reason: 'signature',
    })
  })

  it('picks up a rotated secret from a getter without restart', async () => {
    let current = secret
    const tokens = jwtBearer({ issuer, audience, algorithms: ['HS256'], secret: () => current, cache: false })
    await expect(Promise.resolve(tokens.authenticate(bearer(hs())))).resolves.toBeDefined()
    current = 'the-next-shared-secret-also-32-bytes-long'
    await expect(Promise.resolve(tokens.authenticate(bearer(hs())))).rejects.toMatchObject({
      reason: 'signature',
    })
    await expect(Promise.resolve(tokens.authenticate(bearer(hs(claims(), current))))).resolves.toBeDefined()
  })

  it('rejects an RS256 token when only HMAC is pinned', async () => {
    const tokens = jwtBearer({ issuer, audience, algorithms: ['HS256'], secret })
    await expect(Promise.resolve(tokens.authenticate(bearer(await sign(rs256))))).rejects.toMatchObject({
      reason: 'algorithm',
    })
  })
})

describe('jwtBearer: option mistakes fail at construction, naming the option', () => {
  const base = { issuer, audience, algorithms: ['ES256'] }
  it.each([
    [{ ...base, algorithms: ['none'] }, /"algorithms\.0" option must only name supported algorithms/],
    [{ ...base, algorithms: [] }, /"algorithms" option/],
    [{ ...base, algorithms: ['HS256', 'RS256'], secret: 'x'.repeat(32) }, /"algorithms" option cannot mix/],
    [{ ...base, algorithms: ['HS256'] }, /"secret" option is required/],
    [{ ...base, algorithms: ['HS256'], secret: 'short' }, /"secret" option must be at least 32 bytes/],
    [{ ...base, secret: 'x'.repeat(32) }, /"algorithms" option must be HMAC/],
    [{ ...base, issuer: 'http://idp.example.com/' }, /"issuer" option must be an https URL/],
    [{ ...base, issuer: undefined }, /"issuer" option/],
    [{ ...base, audience: '' }, /"audience" option/],
    [{ ...base, jwksUri: 'https://a/jwks', jwks: { keys: [] } }, /"jwksUri" option cannot be combined/],
    [
      { ...base, issuer: [issuer, 'https://b/'], jwksUri: 'https://a/jwks' },
      /"issuer" option must be a single issuer/,
    ],
    [{ ...base, clockToleranceSeconds: -1 }, /"clockToleranceSeconds" option must be a non-negative number/],
    [{ ...base, clockTolerance: -1 }, /"clockTolerance" option must be a non-negative number/],
    [
      { ...base, clockTolerance: 5, clockToleranceSeconds: 5 },
      /^jwtBearer: "clockTolerance" option is the deprecated name of "clockToleranceSeconds"/,
    ],
    [{ ...base, maxTokenAgeSeconds: -1 }, /"maxTokenAgeSeconds" option must be a non-negative number/],
    [{ ...base, cache: { maxTtlSeconds: 0 } }, /"cache\.maxTtlSeconds" option must be a positive integer/],
    [
      { ...base, cache: { maxTtl: 60, maxTtlSeconds: 60 } },
      /"cache\.maxTtl" option is the deprecated name of "maxTtlSeconds"/,
    ],
    [{ ...base, cache: { max: 0 } }, /"cache\.max" option must be a positive integer/],
    [{ ...base, audiance: 'x' }, /"audiance" option is not recognized/],
    [{ ...base, typ: 3 }, /"typ" option must be a non-empty string or false/],
    [
      { ...base, clockToleranceSeconds: 5000 },
      /"clockToleranceSeconds" option must be .* seconds, at most 300/,
    ],
    [
      { ...base, http: { cooldown: 0 } },
      /"http\.cooldown" option must be an integer number of milliseconds, at least 1000/,
    ],
    [
      { ...base, http: { maxKeyWait: -1 } },
      /^jwtBearer: "http\.maxKeyWait" option must be a non-negative integer number of milliseconds/,
    ],
    [{ ...base, http: { maxKeyWait: 60_001 } }, /"http\.maxKeyWait" option must be .* at most 60000/],
    [
      { ...base, http: { maxAge: 1 } },
      /"http\.maxAge" option must be an integer number of milliseconds, from 1000/,
    ],
    [{ ...base, http: { maxAge: 86_400_001 } }, /"http\.maxAge" option must be .* to 86400000/],
    [
      { ...base, http: { maxStale: 604_800_001 } },
      /"http\.maxStale" option must be an integer number of milliseconds, from 1000 to 604800000/,
    ],
    // Under the default maxAge (10 minutes), and under an explicit one (issue 12).
    [{ ...base, http: { maxStale: 300_000 } }, /^jwtBearer: "http\.maxStale" option must be at least/],
    [
      { ...base, http: { maxAge: 120_000, maxStale: 60_000 } },
      /^jwtBearer: "http\.maxStale" option must be at least "http\.maxAge"/,
    ],
    [{ ...base, issuer: 'http://127.attacker.example/' }, /"issuer" option must be an https URL/],
    [{ ...base, jwksUri: 'http://127.attacker.example/jwks' }, /"jwksUri" option must be an https URL/],
  ])('%#', (options, message) => {
    expect(() => jwtBearer(options as unknown as JwtBearerOptions)).toThrow(TypeError)
    expect(() => jwtBearer(options as unknown as JwtBearerOptions)).toThrow(message)
  })
})

// Issue 13: the claims are read by core's claimsToAuth, which checks "aud" as it checks "sub". jose
// accepts an array "aud" that holds one configured audience beside a number; Auth.audience held the number.
describe('jwtBearer: an "aud" array with a member that is not a string', () => {
  it('refuses the token as 401 invalid_token', async () => {
    const token = await sign(es256, claims({ aud: [audience, 7] as unknown as string[] }))
    expect(await rejection(token)).toEqual(invalidToken('claim:aud'))
  })
})
