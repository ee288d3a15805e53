import { createHash, randomUUID } from 'node:crypto'
import { type Auth, type RequestLike, renderError, ZeroTrustError } from '@zerotrust/core'
import { presentedToken } from '@zerotrust/core/layer'
import { jwtBearer } from '@zerotrust/jwt'
import {
  createDpopProof,
  generateSigningKey,
  type JwksServer,
  jwkThumbprint,
  type SigningKey,
  signAccessToken,
  startJwksServer,
  toJwks,
} from '@zerotrust/testkit'
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop'
import { SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { dpop } from './dpop.js'
import { memoryReplayStore } from './memory-replay-store.js'
import { requireDpop } from './require-dpop.js'

const origin = 'https://api.example.com'
const audience = 'api://orders'
const url = `${origin}/orders`

/** The framework-free request view adapters build, for requests sent straight to the authenticator. */
function view(headers: [string, string][], options: { method?: string; target?: string } = {}): RequestLike {
  const target = options.target ?? '/orders'
  const query = target.indexOf('?')
  return {
    method: options.method ?? 'GET',
    origin,
    target,
    path: query === -1 ? target : target.slice(0, query),
    headerValues: (name) => headers.filter(([key]) => key.toLowerCase() === name).map(([, value]) => value),
  }
}

let issuerKey: SigningKey
let clientKey: SigningKey
let otherKey: SigningKey
let jwks: JwksServer
let jkt: string

beforeAll(async () => {
  issuerKey = await generateSigningKey('ES256', 'issuer')
  clientKey = await generateSigningKey('ES256')
  otherKey = await generateSigningKey('ES256')
  jwks = await startJwksServer(toJwks(issuerKey))
  jkt = await jwkThumbprint(clientKey)
})
afterAll(() => jwks.close())
afterEach(() => {
  vi.useRealTimers()
})

const tokenFor = (thumbprint: string | undefined, extra: Record<string, unknown> = {}) =>
  signAccessToken(issuerKey, {
    iss: jwks.issuer,
    aud: audience,
    sub: 'alice',
    client_id: 'web-app',
    scope: 'orders:read',
    ...(thumbprint === undefined ? {} : { cnf: { jkt: thumbprint } }),
    ...extra,
  })
const inner = () => jwtBearer({ issuer: jwks.issuer, audience, algorithms: ['ES256'] })

async function request(
  token: string,
  proof: string | string[] | undefined,
  options: { method?: string; target?: string; scheme?: string } = {},
): Promise<RequestLike> {
  const headers: [string, string][] = [['Authorization', `${options.scheme ?? 'DPoP'} ${token}`]]
  for (const value of proof === undefined ? [] : Array.isArray(proof) ? proof : [proof])
    headers.push(['DPoP', value])
  return view(headers, options)
}

async function rejection(promise: Promise<unknown>): Promise<ZeroTrustError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  if (!(error instanceof ZeroTrustError)) throw new Error(`expected a ZeroTrustError, got ${String(error)}`)
  return error
}

/** Builds a proof by hand, for headers and payloads a well-behaved client never makes. */
async function craft(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: SigningKey = clientKey,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey)
}
const publicJwk = (key: SigningKey) => {
  const { kid: _k, alg: _a, use: _u, ...jwk } = key.publicJwk
  return jwk
}
const claimsFor = (token: string, extra: Record<string, unknown> = {}) => ({
  htm: 'GET',
  htu: url,
  iat: Math.floor(Date.now() / 1000),
  jti: randomUUID(),
  ath: createHash('sha256').update(token).digest('base64url'),
  ...extra,
})

describe('dpop: accepted proofs', () => {
  it('authenticates a DPoP-bound token with a proof of its key', async () => {
    const tokens = dpop(inner())
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const auth: Auth = await tokens.authenticate(await request(token, proof))
    expect(auth).toMatchObject({ subject: 'alice', scheme: 'DPoP', cnf: { jkt } })
    expect(tokens.layer).toBe('dpop/jwt')
  })

  it('records no token for a DPoP request: a bound token is not to be passed on without its proof (issue 17)', async () => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const auth = await dpop(inner()).authenticate(await request(token, proof))
    expect(presentedToken(auth)).toBeUndefined()
  })

  it.each([
    ['host case and default port', 'https://API.Example.COM:443/orders'],
    ['percent-encoded unreserved characters', 'https://api.example.com/%6Frders'],
    ['a query and a fragment, which §4.3 check 9 ignores', 'https://api.example.com/orders?page=2#top'],
  ])('accepts an htu that normalizes equal: %s', async (_name, htu) => {
    const token = await tokenFor(jkt)
    const proof = await craft(
      { alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(clientKey) },
      claimsFor(token, { htu }),
    )
    await expect(dpop(inner()).authenticate(await request(token, proof))).resolves.toMatchObject({
      scheme: 'DPoP',
    })
  })

  it('compares the request path without its query', async () => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const req = await request(token, proof, { target: '/orders?page=2' })
    await expect(dpop(inner()).authenticate(req)).resolves.toMatchObject({ scheme: 'DPoP' })
  })

  it.each(['ES384', 'EdDSA', 'PS256', 'RS256'] as const)('verifies %s proofs', async (alg) => {
    const key = await generateSigningKey(alg)
    const token = await tokenFor(await jwkThumbprint(key))
    const proof = await createDpopProof(key, { method: 'GET', url, accessToken: token })
    await expect(dpop(inner()).authenticate(await request(token, proof))).resolves.toMatchObject({
      scheme: 'DPoP',
    })
  })

  it('verifies Ed25519 proofs made by the dpop package', async () => {
    const keypair = await generateKeyPair('Ed25519')
    const token = await tokenFor(await calculateThumbprint(keypair.publicKey))
    const proof = await generateProof(keypair, url, 'GET', undefined, token)
    await expect(dpop(inner()).authenticate(await request(token, proof))).resolves.toMatchObject({
      scheme: 'DPoP',
    })
  })

  it('still accepts a plain bearer token when DPoP is not required', async () => {
    const token = await tokenFor(undefined)
    const auth = await dpop(inner()).authenticate(view([['Authorization', `Bearer ${token}`]]))
    expect(auth.scheme).toBe('Bearer')
  })
})

describe('dpop: each RFC 9449 §4.3 check has a proof that breaks it', () => {
  const refused = async (proof: string | string[] | undefined, token?: string, options = {}) => {
    const t = token ?? (await tokenFor(jkt))
    return rejection(dpop(inner()).authenticate(await request(t, proof, options)))
  }
  const expectProofError = (error: ZeroTrustError, reason: string) => {
    expect({ code: error.code, status: error.status, reason: error.reason }).toEqual({
      code: 'invalid_dpop_proof',
      status: 401,
      reason,
    })
    const { headers } = renderError(error)
    expect(headers['www-authenticate']).toMatch(
      /^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="ES256 ES384 ES512 EdDSA Ed25519 PS256 RS256", Bearer$/,
    )
  }

  it('no DPoP header', async () => expectProofError(await refused(undefined), 'missing_proof'))

  it('two DPoP headers', async () => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    expectProofError(await refused([proof, proof], token), 'multiple_proofs')
    // A Fetch server joins them into one value.
    expectProofError(await refused(`${proof}, ${proof}`, token), 'multiple_proofs')
  })

  it('a 40 KiB proof, refused before parsing', async () => {
    expectProofError(await refused(`${'a'.repeat(40 * 1024)}.b.c`), 'proof_too_large')
  })

  it('not a JWS', async () => {
    expectProofError(await refused('not-a-jwt'), 'malformed_proof')
    expectProofError(await refused('a.b.c.d'), 'malformed_proof')
    expectProofError(await refused('e30.e30.!!'), 'malformed_proof')
  })

  it('a proof re-spelt with non-canonical base64url, decoding to the same bytes (issue 12)', async () => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    // An ES256 signature is 64 bytes: 86 characters, the last carrying 4 unused bits.
    const at = proof.length - 1
    const sibling = `${proof.slice(0, at)}${alphabet[alphabet.indexOf(proof[at] as string) | 1]}`
    const signature = (text: string) => Buffer.from(text.slice(text.lastIndexOf('.') + 1), 'base64url')
    expect(signature(sibling)).toEqual(signature(proof))
    expectProofError(await refused(sibling, token), 'malformed_proof')
    expectProofError(await refused(`${proof}==`, token), 'malformed_proof')
    // The canonical spelling of the very same proof is accepted.
    await expect(dpop(inner()).authenticate(await request(token, proof))).resolves.toMatchObject({
      scheme: 'DPoP',
    })
  })

  it('typ other than dpop+jwt', async () => {
    const token = await tokenFor(jkt)
    const jwk = publicJwk(clientKey)
    expectProofError(
      await refused(await craft({ alg: 'ES256', typ: 'JWT', jwk }, claimsFor(token)), token),
      'typ',
    )
    expectProofError(await refused(await craft({ alg: 'ES256', jwk }, claimsFor(token)), token), 'typ')
  })

  it('alg none', async () => {
    const token = await tokenFor(jkt)
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const proof = `${encode({ alg: 'none', typ: 'dpop+jwt', jwk: publicJwk(clientKey) })}.${encode(claimsFor(token))}.`
    expectProofError(await refused(proof, token), 'malformed_proof')
    const withSignature = `${proof}AAAA`
    expectProofError(await refused(withSignature, token), 'alg')
  })

  it('HS256 signed with the public key as secret', async () => {
    const token = await tokenFor(jkt)
    const jwk = publicJwk(clientKey)
    const proof = await new SignJWT(claimsFor(token))
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk })
      .sign(new TextEncoder().encode(JSON.stringify(jwk)))
    expectProofError(await refused(proof, token), 'alg')
  })

  it('an algorithm outside the configured list', async () => {
    const key = await generateSigningKey('ES384')
    const token = await tokenFor(await jwkThumbprint(key))
    const proof = await createDpopProof(key, { method: 'GET', url, accessToken: token })
    const error = await rejection(
      dpop(inner(), { algorithms: ['ES256'] }).authenticate(await request(token, proof)),
    )
    expect(error.reason).toBe('alg')
    expect(renderError(error).headers['www-authenticate']).toContain('algs="ES256"')
  })

  it('an alg that does not fit the key (ES384 header, P-256 key)', async () => {
    const token = await tokenFor(jkt)
    const proof = await craft(
      { alg: 'ES384', typ: 'dpop+jwt', jwk: publicJwk(clientKey) },
      claimsFor(token),
      await generateSigningKey('ES384'),
    )
    expectProofError(await refused(proof, token), 'alg')
  })

  it('a private key in the jwk header', async () => {
    const token = await tokenFor(jkt)
    const { kid: _k, alg: _a, use: _u, ...privateJwk } = clientKey.privateJwk
    const proof = await craft({ alg: 'ES256', typ: 'dpop+jwt', jwk: privateJwk }, claimsFor(token))
    expectProofError(await refused(proof, token), 'private_key')
  })

  it('no jwk, or a symmetric one', async () => {
    const token = await tokenFor(jkt)
    expectProofError(
      await refused(await craft({ alg: 'ES256', typ: 'dpop+jwt' }, claimsFor(token)), token),
      'jwk',
    )
    const oct = { kty: 'oct', k: Buffer.alloc(32).toString('base64url') }
    expectProofError(
      await refused(await craft({ alg: 'ES256', typ: 'dpop+jwt', jwk: oct }, claimsFor(token)), token),
      'private_key',
    )
  })

  // Regression (security review): an RSA key with e = 1 makes a "signature" anyone can compute.
  it.each([
    ['1', 'AQ'],
    ['an even exponent', 'Ag'],
    ['leading zero bytes', 'AAEAAQ'],
  ])('an RSA proof key with a public exponent of %s', async (_name, e) => {
    const token = await tokenFor(jkt)
    const rsa = await generateSigningKey('RS256')
    const jwk = { ...publicJwk(rsa), e }
    const proof = await craft({ alg: 'RS256', typ: 'dpop+jwt', jwk }, claimsFor(token), rsa)
    expectProofError(await refused(proof, token), 'weak_key')
  })

  // Regression (issue 12): a coordinate re-spelt with non-zero unused bits decodes to the same point.
  it('a proof key whose coordinate is not canonical base64url', async () => {
    const token = await tokenFor(jkt)
    const jwk = publicJwk(clientKey)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const x = jwk.x as string
    const sibling = alphabet[alphabet.indexOf(x.slice(-1)) ^ 1] as string
    const respelt = { ...jwk, x: x.slice(0, -1) + sibling }
    expect(Buffer.from(respelt.x, 'base64url')).toEqual(Buffer.from(x, 'base64url'))
    const proof = await craft({ alg: 'ES256', typ: 'dpop+jwt', jwk: respelt }, claimsFor(token))
    expectProofError(await refused(proof, token), 'jwk')
  })

  it('a point that is not on the curve', async () => {
    const token = await tokenFor(jkt)
    const jwk = { ...publicJwk(clientKey), y: Buffer.alloc(32, 1).toString('base64url') }
    expectProofError(
      await refused(await craft({ alg: 'ES256', typ: 'dpop+jwt', jwk }, claimsFor(token)), token),
      'jwk',
    )
  })

  it('a bad signature: signed by another key than the embedded one', async () => {
    const token = await tokenFor(jkt)
    const proof = await craft(
      { alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(clientKey) },
      claimsFor(token),
      otherKey,
    )
    expectProofError(await refused(proof, token), 'signature')
  })

  it('a known header with another signature: the kept header check does not skip the signature', async () => {
    const tokens = dpop(inner())
    const token = await tokenFor(jkt)
    const good = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    await tokens.authenticate(await request(token, good))
    const again = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const [header, payload] = again.split('.')
    const forged = await craft(
      { alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(clientKey) },
      claimsFor(token),
      otherKey,
    )
    const spliced = `${header}.${payload}.${forged.split('.')[2]}`
    expectProofError(await rejection(tokens.authenticate(await request(token, spliced))), 'signature')
  })

  it('an unknown crit extension', async () => {
    const token = await tokenFor(jkt)
    // jose refuses to sign an extension it does not know, so this proof is signed with WebCrypto directly.
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const input = `${encode({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(clientKey), crit: ['x'], x: 1 })}.${encode(claimsFor(token))}`
    const signature = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      clientKey.privateKey,
      new TextEncoder().encode(input),
    )
    const proof = `${input}.${Buffer.from(signature).toString('base64url')}`
    expectProofError(await refused(proof, token), 'crit')
  })

  it.each(['jti', 'htm', 'htu', 'iat'])('a missing %s', async (claim) => {
    const token = await tokenFor(jkt)
    const claims: Record<string, unknown> = claimsFor(token)
    delete claims[claim]
    const proof = await craft({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(clientKey) }, claims)
    expectProofError(await refused(proof, token), 'missing_claim')
  })

  it('htm of another method', async () => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'POST', url, accessToken: token })
    expectProofError(await refused(proof, token), 'htm')
  })

  it.each([
    ['another host', 'https://other.example.com/orders'],
    ['another scheme', 'http://api.example.com/orders'],
    ['another port', 'https://api.example.com:8443/orders'],
    ['a trailing slash', 'https://api.example.com/orders/'],
    ['another path case', 'https://api.example.com/Orders'],
    ['an encoded slash', 'https://api.example.com%2Forders'],
    ['a relative URI', '/orders'],
  ])('htu with %s', async (_name, htu) => {
    const token = await tokenFor(jkt)
    const proof = await craft(
      { alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(clientKey) },
      claimsFor(token, { htu }),
    )
    expectProofError(await refused(proof, token), 'htu')
  })

  // Regression (security review): the expected htu went through a URL parser, which resolved dot
  // segments and backslashes that the router does not, so a proof for /transfer passed at
  // /users/%2e%2e/transfer, which Express routes to /users/:id/transfer.
  it.each([
    '/users/%2e%2e/transfer',
    '/users/%2E%2E/transfer',
    '/users/../transfer',
    '/a/b/../../transfer',
    '/users/./transfer',
    '/users\\..\\transfer',
  ])('a request path a router reads differently from its URL form: %s', async (target) => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, {
      method: 'GET',
      url: `${origin}/transfer`,
      accessToken: token,
    })
    expectProofError(await refused(proof, token, { target }), 'htu')
  })

  it('fails closed with 500 origin_not_configured when the adapter knows no public origin', async () => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const req = { ...(await request(token, proof)), origin: undefined }
    const error = await rejection(dpop(inner()).authenticate(req))
    expect({ code: error.code, status: error.status, reason: error.reason }).toEqual({
      code: 'internal_error',
      status: 500,
      reason: 'origin_not_configured',
    })
  })

  it('a request path with encoded unreserved characters matches the proof that names them plainly', async () => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const req = await request(token, proof, { target: '/%6frders' })
    await expect(dpop(inner()).authenticate(req)).resolves.toMatchObject({ scheme: 'DPoP' })
  })

  it('htu built from the configured origin: a forged Host cannot move a proof to another endpoint', async () => {
    const token = await tokenFor(jkt)
    // A proof made for the same path on another service; the request's Host header claims that service.
    const proof = await createDpopProof(clientKey, {
      method: 'GET',
      url: 'https://billing.example.com/orders',
      accessToken: token,
    })
    const req = await request(token, proof)
    const forged = {
      ...req,
      headerValues: (name: string) => (name === 'host' ? ['billing.example.com'] : req.headerValues(name)),
    }
    expectProofError(await rejection(dpop(inner()).authenticate(forged)), 'htu')
  })

  it('iat too old and too far in the future', async () => {
    const token = await tokenFor(jkt)
    const now = Math.floor(Date.now() / 1000)
    const old = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token, iat: now - 61 })
    expectProofError(await refused(old, token), 'iat_too_old')
    const future = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token, iat: now + 30 })
    expectProofError(await refused(future, token), 'iat_future')
    // Inside the tolerances: accepted.
    const skewed = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token, iat: now + 3 })
    await expect(dpop(inner()).authenticate(await request(token, skewed))).resolves.toMatchObject({
      scheme: 'DPoP',
    })
  })

  it('ath of another token, and no ath', async () => {
    const token = await tokenFor(jkt)
    const other = await tokenFor(jkt, { sub: 'bob' })
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: other })
    expectProofError(await refused(proof, token), 'ath')
    const bare = await createDpopProof(clientKey, { method: 'GET', url })
    expectProofError(await refused(bare, token), 'ath')
  })

  it('a replayed jti in the same process', async () => {
    const tokens = dpop(inner())
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    await tokens.authenticate(await request(token, proof))
    expectProofError(await rejection(tokens.authenticate(await request(token, proof))), 'replayed')
  })

  it('a proof refused for another reason does not burn its jti', async () => {
    const tokens = dpop(inner())
    const token = await tokenFor(jkt)
    const jti = randomUUID()
    const wrongToken = await tokenFor(jkt, { sub: 'bob' })
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token, jti })
    await rejection(tokens.authenticate(await request(wrongToken, proof)))
    await expect(tokens.authenticate(await request(token, proof))).resolves.toMatchObject({ scheme: 'DPoP' })
  })
})

describe('dpop: binding (invalid_token)', () => {
  it('refuses a proof key whose thumbprint differs from cnf.jkt', async () => {
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(otherKey, { method: 'GET', url, accessToken: token })
    const error = await rejection(dpop(inner()).authenticate(await request(token, proof)))
    expect({ code: error.code, status: error.status, reason: error.reason }).toEqual({
      code: 'invalid_token',
      status: 401,
      reason: 'key_mismatch',
    })
    expect(renderError(error).headers['www-authenticate']).toMatch(/^DPoP error="invalid_token"/)
  })

  it('refuses an unbound token under the DPoP scheme', async () => {
    const token = await tokenFor(undefined)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const error = await rejection(dpop(inner()).authenticate(await request(token, proof)))
    expect(error.reason).toBe('not_dpop_bound')
  })

  it('refuses a DPoP-bound token presented as Bearer (§7.2), with both challenges', async () => {
    const token = await tokenFor(jkt)
    const error = await rejection(dpop(inner()).authenticate(view([['Authorization', `Bearer ${token}`]])))
    expect({ code: error.code, reason: error.reason }).toEqual({
      code: 'invalid_token',
      reason: 'dpop_bound',
    })
    expect(renderError(error).headers['www-authenticate']).toMatch(
      /^Bearer error="invalid_token", .*, DPoP algs="[^"]+"$/,
    )
  })

  it('refuses a bearer token sent with a DPoP proof beside it', async () => {
    const token = await tokenFor(undefined)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const req = await request(token, proof, { scheme: 'Bearer' })
    const error = await rejection(dpop(inner()).authenticate(req))
    expect({ code: error.code, status: error.status, reason: error.reason }).toEqual({
      code: 'invalid_request',
      status: 400,
      reason: 'proof_with_bearer',
    })
  })

  it('refuses bearer tokens altogether when DPoP is required', async () => {
    const token = await tokenFor(undefined)
    const error = await rejection(
      dpop(inner(), { required: true }).authenticate(view([['Authorization', `Bearer ${token}`]])),
    )
    expect({ code: error.code, reason: error.reason }).toEqual({
      code: 'invalid_token',
      reason: 'dpop_required',
    })
    expect(renderError(error).headers['www-authenticate']).toMatch(/^DPoP error="invalid_token"/)
  })

  it('answers no credentials with both challenges and no error attribute', async () => {
    const error = await rejection(dpop(inner()).authenticate(view([])))
    expect(error.code).toBe('missing_credentials')
    expect(renderError(error).headers['www-authenticate']).toBe(
      'DPoP algs="ES256 ES384 ES512 EdDSA Ed25519 PS256 RS256", Bearer',
    )
    const required = await rejection(
      dpop(inner(), { required: true, realm: 'orders' }).authenticate(view([])),
    )
    expect(renderError(required).headers['www-authenticate']).toBe(
      'DPoP realm="orders", algs="ES256 ES384 ES512 EdDSA Ed25519 PS256 RS256"',
    )
  })

  it('requireDpop() refuses a bearer request on one route', async () => {
    const token = await tokenFor(undefined)
    const auth = await dpop(inner()).authenticate(view([['Authorization', `Bearer ${token}`]]))
    const decision = await requireDpop().authorize(view([]), auth)
    expect(decision.allowed).toBe(false)
    if (!decision.allowed)
      expect(decision.error).toMatchObject({ code: 'invalid_token', reason: 'dpop_required' })
  })

  it('passes a token outage through as 503, not 401', async () => {
    const down = await startJwksServer(toJwks(issuerKey))
    down.down(true)
    const tokens = dpop(jwtBearer({ issuer: down.issuer, audience, algorithms: ['ES256'] }))
    const token = await signAccessToken(issuerKey, {
      iss: down.issuer,
      aud: audience,
      sub: 'alice',
      cnf: { jkt },
    })
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const error = await rejection(tokens.authenticate(await request(token, proof)))
    expect(error.status).toBe(503)
    await down.close()
  })
})

describe('dpop: the credential bound comes from the inner layer (issue 13)', () => {
  it("refuses a DPoP credential over the inner layer's maxTokenLength before reading the proof", async () => {
    const tokens = dpop(
      jwtBearer({ issuer: jwks.issuer, audience, algorithms: ['ES256'], maxTokenLength: 256 }),
    )
    const token = await tokenFor(jkt, { padding: 'p'.repeat(300) })
    expect(token.length).toBeGreaterThan(256)
    // No proof at all: without the inner bound this would be refused as a missing proof.
    const error = await rejection(tokens.authenticate(await request(token, undefined)))
    expect(error).toMatchObject({ code: 'invalid_token', status: 401, reason: 'token_too_large' })
    expect(renderError(error).headers['www-authenticate']).toMatch(/^DPoP /)
  })

  it('refuses an inner layer that states a bound that is not a positive integer', () => {
    const broken = { ...inner(), verify: inner().verify, maxTokenLength: 0 }
    expect(() => dpop(broken)).toThrow(/"maxTokenLength"/)
  })
})

describe('dpop: server nonces (§8, §9)', () => {
  const secret = 'n'.repeat(32)

  it('asks for a nonce with 401 use_dpop_nonce and a DPoP-Nonce header, then accepts it', async () => {
    const tokens = dpop(inner(), { nonce: { secret } })
    const token = await tokenFor(jkt)
    const first = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const error = await rejection(tokens.authenticate(await request(token, first)))
    const rendered = renderError(error)
    expect({ code: error.code, status: rendered.status, reason: error.reason }).toEqual({
      code: 'use_dpop_nonce',
      status: 401,
      reason: 'nonce_missing',
    })
    expect(rendered.headers['www-authenticate']).toMatch(/^DPoP error="use_dpop_nonce"/)
    const nonce = rendered.headers['dpop-nonce'] as string
    expect(nonce).toBe(tokens.currentNonce())

    const second = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token, nonce })
    const auth = await tokens.authenticate(await request(token, second))
    expect(auth.responseHeaders).toEqual({ 'DPoP-Nonce': nonce })
  })

  it('refuses a forged nonce and a stale one, and offers a fresh nonce after rotation', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-11-23T10:00:00Z'))
    const tokens = dpop(inner(), { nonce: { secret, lifetimeSeconds: 60 } })
    const token = await tokenFor(jkt, { exp: Math.floor(Date.now() / 1000) + 3600 })
    const nonce = tokens.currentNonce() as string

    const forged = await createDpopProof(clientKey, {
      method: 'GET',
      url,
      accessToken: token,
      nonce: `${nonce.slice(0, -2)}AA`,
    })
    expect((await rejection(tokens.authenticate(await request(token, forged)))).reason).toBe('nonce_invalid')

    // One period later the nonce is still accepted, and the response carries the new one.
    vi.setSystemTime(new Date('2026-11-23T10:01:00Z'))
    const previous = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token, nonce })
    const auth = await tokens.authenticate(await request(token, previous))
    expect(auth.responseHeaders?.['DPoP-Nonce']).not.toBe(nonce)
    expect(auth.responseHeaders?.['DPoP-Nonce']).toBe(tokens.currentNonce())

    // Two periods later it is stale.
    vi.setSystemTime(new Date('2026-11-23T10:02:30Z'))
    const stale = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token, nonce })
    const error = await rejection(tokens.authenticate(await request(token, stale)))
    expect({ code: error.code, reason: error.reason }).toEqual({
      code: 'use_dpop_nonce',
      reason: 'nonce_stale',
    })
    expect(renderError(error).headers['dpop-nonce']).toBe(tokens.currentNonce())
  })

  it('shares nonces across replicas with the same secret, and not with another', async () => {
    const a = dpop(inner(), { nonce: { secret } })
    const b = dpop(inner(), { nonce: { secret: () => secret } })
    const c = dpop(inner(), { nonce: { secret: 'x'.repeat(32) } })
    const token = await tokenFor(jkt)
    const nonce = a.currentNonce() as string
    const proof = () => createDpopProof(clientKey, { method: 'GET', url, accessToken: token, nonce })
    await expect(b.authenticate(await request(token, await proof()))).resolves.toMatchObject({
      scheme: 'DPoP',
    })
    expect((await rejection(c.authenticate(await request(token, await proof())))).reason).toBe(
      'nonce_invalid',
    )
  })
})

describe('dpop: replay store', () => {
  it('answers 503 when the store fails, never allows', async () => {
    const tokens = dpop(inner(), {
      replayStore: {
        claim: () => Promise.reject(new Error('connection refused')),
      },
    })
    const token = await tokenFor(jkt)
    const proof = await createDpopProof(clientKey, { method: 'GET', url, accessToken: token })
    const error = await rejection(tokens.authenticate(await request(token, proof)))
    expect({ code: error.code, status: error.status, reason: error.reason }).toEqual({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'replay_store_unavailable',
    })
  })

  it('refuses new proofs rather than forgetting live ones when the memory store is full', () => {
    const store = memoryReplayStore({ maxEntries: 2 })
    expect(store.claim('a', 60_000)).toBe(true)
    expect(store.claim('b', 60_000)).toBe(true)
    expect(() => store.claim('c', 60_000)).toThrow(
      expect.objectContaining({ code: 'dependency_unavailable' }),
    )
    expect(store.claim('a', 60_000)).toBe(false)
  })

  it('forgets identifiers after their window', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = memoryReplayStore({ maxEntries: 1 })
    expect(store.claim('a', 1000)).toBe(true)
    expect(store.claim('a', 1000)).toBe(false)
    vi.advanceTimersByTime(1001)
    expect(store.claim('b', 1000)).toBe(true)
    expect(store.claim('b', 1000)).toBe(false)
  })
})

describe('dpop: option mistakes fail at construction, naming the option', () => {
  it.each([
    [{ algorithms: ['HS256'] }, /"algorithms\.0" option must list algorithms/],
    [{ algorithms: [] }, /"algorithms" option must not be empty/],
    [
      { maxProofAgeSeconds: 0 },
      /^dpop: "maxProofAgeSeconds" option must be a positive integer number of seconds, at most 300$/,
    ],
    [{ maxProofAge: 3600 }, /"maxProofAge" option must be .*at most 300/],
    [{ clockToleranceSeconds: -1 }, /"clockToleranceSeconds" option must be a non-negative integer/],
    [{ clockTolerance: -1 }, /"clockTolerance" option must be a non-negative integer/],
    [{ replayStore: {} }, /"replayStore" option must be a replay store/],
    [{ nonce: { secret: 'short' } }, /"nonce\.secret" option must be at least 32 bytes/],
    [
      { nonce: { secret: 'n'.repeat(32), lifetimeSeconds: 1 } },
      /"nonce\.lifetimeSeconds" option must be .*from 10 to 3600/,
    ],
    [
      { nonce: { secret: 'n'.repeat(32), lifetime: 1 } },
      /"nonce\.lifetime" option must be .*from 10 to 3600/,
    ],
    [{ required: 'yes' }, /"required" option must be a boolean/],
    [{ replaystore: {} }, /"replaystore" option is not recognized/],
  ])('%j', (options, message) => {
    expect(() => dpop(inner(), options as never)).toThrow(message)
  })

  it('needs a token authenticator with verify()', () => {
    expect(() => dpop({ layer: 'x', authenticate: async () => ({}) as Auth } as never)).toThrow(
      /"verify" method/,
    )
  })

  it('a memory store with a bad bound', () => {
    expect(() => memoryReplayStore({ maxEntries: 0 })).toThrow(
      /"maxEntries" option must be a positive integer/,
    )
  })

  it('a memory store checks its options as every factory does: strict, in one shape (issue 13)', () => {
    expect(() => memoryReplayStore({ maxEntries: 1.5 })).toThrow(
      new TypeError('memoryReplayStore: "maxEntries" option must be a positive integer'),
    )
    // A misspelt bound would otherwise leave the default in place without a word.
    expect(() => memoryReplayStore({ maxEntrys: 10 } as never)).toThrow(
      new TypeError('memoryReplayStore: "maxEntrys" option is not recognized'),
    )
    expect(() => memoryReplayStore(null as never)).toThrow(
      new TypeError('memoryReplayStore: options must be an object'),
    )
  })
})
