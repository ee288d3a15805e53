import { generateKeyPairSync } from 'node:crypto'
import { type Auth, isZeroTrustError, type RequestLike, type ZeroTrustError } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { actorChain } from './actor-chain.js'
import { internalTokens } from './internal-tokens.js'
import type { SigningKeySource } from './lib/options.js'

const edge = 'spiffe://prod.example.com/ns/shop/sa/edge'
const orders = 'spiffe://prod.example.com/ns/shop/sa/orders'
const issuer = 'https://edge.internal/'

function pem(kind: 'ec' | 'ed25519' | 'rsa' = 'ec', curve = 'P-256'): string {
  const { privateKey } =
    kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: curve })
      : kind === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519')
  return privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
}

/** A key source that rotates when told, as a `Secret` of `@zerotrust/secrets` does. */
function rotatingKey(first: string) {
  let value = first
  const listeners = new Set<() => void>()
  const source: SigningKeySource = {
    current: () => value,
    onRotate(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  return {
    source,
    rotate(next: string) {
      value = next
      for (const listener of listeners) listener()
    },
  }
}

function userAuth(overrides: Partial<Auth> = {}): Auth {
  const now = Math.floor(Date.now() / 1000)
  return {
    subject: 'alice',
    issuer: 'https://idp.example.com/',
    audience: ['api://edge'],
    clientId: 'mobile-app',
    scopes: ['orders:read', 'orders:write', 'billing:read'],
    claims: { sub: 'alice', iss: 'https://idp.example.com/', exp: now + 3600 },
    scheme: 'Bearer',
    format: 'jwt',
    expiresAt: now + 3600,
    cnf: undefined,
    ...overrides,
  }
}

function bearer(token: string): RequestLike {
  return {
    method: 'GET',
    origin: 'https://orders.internal',
    target: '/orders',
    path: '/orders',
    headerValues: (name) => (name.toLowerCase() === 'authorization' ? [`Bearer ${token}`] : []),
  }
}

async function refusal(promise: unknown): Promise<ZeroTrustError> {
  const error = await Promise.resolve(promise).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isZeroTrustError(error)) throw new Error(`expected a ZeroTrustError, got ${String(error)}`)
  return error
}

function thrown(run: () => unknown): ZeroTrustError {
  try {
    run()
  } catch (error) {
    if (isZeroTrustError(error)) return error
    throw error
  }
  throw new Error('expected a throw')
}

afterEach(() => {
  vi.useRealTimers()
})

describe('internalTokens', () => {
  it('mints a token downstream jwtBearer accepts, with the claims of the issue (issue 17)', async () => {
    const tokens = internalTokens({ issuer, keys: rotatingKey(pem()).source, actor: edge })
    const minted = tokens.mint(userAuth(), { audience: 'api://orders', scope: 'orders:read' })
    const verifier = jwtBearer({
      issuer,
      audience: 'api://orders',
      algorithms: ['ES256'],
      jwks: tokens.jwks() as never,
    })
    const auth = await verifier.authenticate(bearer(minted.value))
    expect(auth.subject).toBe('alice')
    expect(auth.clientId).toBe('mobile-app')
    expect(auth.scopes).toEqual(['orders:read'])
    expect(auth.claims.original_iss).toBe('https://idp.example.com/')
    expect(auth.claims.act).toEqual({ sub: edge })
    expect(typeof auth.claims.jti).toBe('string')
    expect(decodeProtectedHeader(minted.value)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' })
    const claims = decodeJwt(minted.value)
    expect((claims.exp as number) - (claims.iat as number)).toBe(60)
    expect(minted.expiresAt).toBe((claims.exp as number) * 1000)
    // The value is hidden from logs and JSON.
    expect(JSON.stringify(minted)).not.toContain(minted.value)
  })

  it('refuses a scope the user does not hold: never wider than the user token (issue 17)', () => {
    const tokens = internalTokens({ issuer, keys: rotatingKey(pem()).source, actor: edge })
    const error = thrown(() =>
      tokens.mint(userAuth(), { audience: 'api://orders', scope: 'orders:read admin' }),
    )
    expect({ code: error.code, status: error.status, reason: error.reason, scope: error.scope }).toEqual({
      code: 'insufficient_scope',
      status: 403,
      reason: 'scope_not_granted',
      scope: ['admin'],
    })
  })

  it('carries no scope unless asked, and never outlives the user token', () => {
    const tokens = internalTokens({ issuer, keys: rotatingKey(pem()).source, actor: edge, ttlSeconds: 300 })
    const soon = Math.floor(Date.now() / 1000) + 30
    const minted = tokens.mint(userAuth({ expiresAt: soon }), { audience: 'api://orders' })
    const claims = decodeJwt(minted.value)
    expect(claims.scope).toBeUndefined()
    expect(claims.exp).toBe(soon)
  })

  it('refuses an expired user, a user without subject and an audience off the list', () => {
    const tokens = internalTokens({
      issuer,
      keys: rotatingKey(pem()).source,
      actor: edge,
      audiences: ['api://orders'],
    })
    const past = Math.floor(Date.now() / 1000) - 1
    expect(
      thrown(() => tokens.mint(userAuth({ expiresAt: past }), { audience: 'api://orders' })).reason,
    ).toBe('subject_expired')
    expect(
      thrown(() => tokens.mint(userAuth({ subject: undefined }), { audience: 'api://orders' })).reason,
    ).toBe('no_subject')
    const unauthenticated = thrown(() => tokens.mint(undefined, { audience: 'api://orders' }))
    expect({ code: unauthenticated.code, reason: unauthenticated.reason }).toEqual({
      code: 'internal_error',
      reason: 'no_subject',
    })
    const off = thrown(() => tokens.mint(userAuth(), { audience: 'api://billing' }))
    expect({ code: off.code, reason: off.reason }).toEqual({
      code: 'internal_error',
      reason: 'audience_not_allowed',
    })
  })

  it('nests an earlier actor and refuses a chain past maxActorDepth (RFC 8693 §4.1)', async () => {
    const atEdge = internalTokens({ issuer, keys: rotatingKey(pem()).source, actor: edge })
    const atOrders = internalTokens({
      issuer,
      keys: rotatingKey(pem()).source,
      actor: orders,
      maxActorDepth: 2,
    })
    const first = atEdge.mint(userAuth(), { audience: 'api://orders', scope: 'billing:read' })
    const verifier = jwtBearer({
      issuer,
      audience: 'api://orders',
      algorithms: ['ES256'],
      jwks: atEdge.jwks() as never,
    })
    const inbound = await verifier.authenticate(bearer(first.value))
    const second = atOrders.mint(inbound, { audience: 'api://billing', scope: 'billing:read' })
    const claims = decodeJwt(second.value)
    expect(claims.act).toEqual({ sub: orders, act: { sub: edge } })
    expect(claims.original_iss).toBe('https://idp.example.com/')
    expect(claims.client_id).toBe('mobile-app')
    // A third hop would name three actors.
    const deeper = { ...inbound, claims: { ...inbound.claims, act: claims.act } }
    const error = thrown(() => atOrders.mint(deeper, { audience: 'api://billing' }))
    expect({ code: error.code, reason: error.reason }).toEqual({
      code: 'invalid_token',
      reason: 'actor_chain_too_deep',
    })
    expect(actorChain(deeper).map((actor) => actor.sub)).toEqual([orders, edge])
  })

  it('reuses a fresh token for the same user, audience and scope, and not past exp minus its margin', () => {
    vi.useFakeTimers({ now: new Date('2026-12-03T12:00:00Z') })
    const tokens = internalTokens({ issuer, keys: rotatingKey(pem()).source, actor: edge })
    const auth = userAuth()
    const first = tokens.mint(auth, { audience: 'api://orders', scope: 'orders:read' })
    expect(tokens.mint(auth, { audience: 'api://orders', scope: 'orders:read' })).toBe(first)
    expect(tokens.mint(auth, { audience: 'api://orders', scope: 'orders:write' })).not.toBe(first)
    expect(tokens.mint(auth, { audience: 'api://billing', scope: 'orders:read' })).not.toBe(first)
    expect(
      tokens.mint({ ...auth, subject: 'bob' }, { audience: 'api://orders', scope: 'orders:read' }),
    ).not.toBe(first)
    // 60 s tokens are reused while more than 15 s remain.
    vi.advanceTimersByTime(44_000)
    expect(tokens.mint(auth, { audience: 'api://orders', scope: 'orders:read' })).toBe(first)
    vi.advanceTimersByTime(2000)
    const later = tokens.mint(auth, { audience: 'api://orders', scope: 'orders:read' })
    expect(later).not.toBe(first)
    // A cached token is not handed to a user whose own token expires before it.
    const short = { ...auth, expiresAt: Math.floor(Date.now() / 1000) + 20 }
    expect(tokens.mint(short, { audience: 'api://orders', scope: 'orders:read' })).not.toBe(later)
    // The scope check runs on every call, cached token or not.
    const narrower = { ...auth, scopes: ['billing:read'] }
    expect(
      thrown(() => tokens.mint(narrower, { audience: 'api://orders', scope: 'orders:read' })).reason,
    ).toBe('scope_not_granted')
  })

  it('publishes the previous key during the overlap after a rotation, then drops it', async () => {
    vi.useFakeTimers({ now: new Date('2026-12-03T12:00:00Z') })
    const keys = rotatingKey(pem())
    const tokens = internalTokens({
      issuer,
      keys: keys.source,
      actor: edge,
      ttlSeconds: 60,
      overlapSeconds: 120,
    })
    const before = tokens.mint(userAuth(), { audience: 'api://orders' })
    const firstKid = tokens.jwks().keys[0]?.kid
    keys.rotate(pem())
    const set = tokens.jwks()
    expect(set.keys).toHaveLength(2)
    expect(set.keys[1]?.kid).toBe(firstKid)
    const after = tokens.mint(userAuth({ subject: 'bob' }), { audience: 'api://orders' })
    expect(decodeProtectedHeader(after.value).kid).toBe(set.keys[0]?.kid)
    // Both verify against the published set.
    const verifier = jwtBearer({
      issuer,
      audience: 'api://orders',
      algorithms: ['ES256'],
      jwks: set as never,
    })
    await expect(Promise.resolve(verifier.authenticate(bearer(before.value)))).resolves.toMatchObject({
      subject: 'alice',
    })
    await expect(Promise.resolve(verifier.authenticate(bearer(after.value)))).resolves.toMatchObject({
      subject: 'bob',
    })
    vi.advanceTimersByTime(121_000)
    expect(tokens.jwks().keys.map((key) => key.kid)).toEqual([set.keys[0]?.kid])
    // Every public JWK is public only.
    for (const key of set.keys) expect(key).not.toHaveProperty('d')
  })

  it('keeps signing with the previous key when a rotated value cannot sign, and reports it', () => {
    const errors: Error[] = []
    const keys = rotatingKey(pem())
    const tokens = internalTokens({ issuer, keys: keys.source, actor: edge, onError: (e) => errors.push(e) })
    const kid = tokens.jwks().keys[0]?.kid
    keys.rotate('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n')
    expect(decodeProtectedHeader(tokens.mint(userAuth(), { audience: 'api://orders' }).value).kid).toBe(kid)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'signing_key_invalid' })
  })

  it('fails closed with 503 when the key secret is stale', () => {
    let stale = false
    const first = pem()
    const tokens = internalTokens({
      issuer,
      keys: {
        current: () => {
          if (stale) throw new Error('the secret is stale')
          return first
        },
      },
      actor: edge,
    })
    stale = true
    const error = thrown(() => tokens.mint(userAuth(), { audience: 'api://orders' }))
    expect({ code: error.code, status: error.status, reason: error.reason }).toEqual({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'signing_key_unavailable',
    })
  })

  it.each([
    ['ES384', pem('ec', 'P-384')],
    ['EdDSA', pem('ed25519')],
    ['RS256', pem('rsa')],
  ] as const)('signs %s with a key of that type, as a JWK too', async (alg, key) => {
    const { createPrivateKey } = await import('node:crypto')
    const jwk = createPrivateKey(key).export({ format: 'jwk' })
    const tokens = internalTokens({
      issuer,
      keys: { current: () => jwk as Record<string, unknown> },
      actor: edge,
    })
    const minted = tokens.mint(userAuth(), { audience: 'api://orders' })
    expect(decodeProtectedHeader(minted.value).alg).toBe(alg)
    const verifier = jwtBearer({
      issuer,
      audience: 'api://orders',
      algorithms: [alg],
      jwks: tokens.jwks() as never,
    })
    await expect(Promise.resolve(verifier.authenticate(bearer(minted.value)))).resolves.toMatchObject({
      subject: 'alice',
    })
  })

  it('serves the JWKS framework-free', async () => {
    const tokens = internalTokens({ issuer, keys: rotatingKey(pem()).source, actor: edge })
    const response = tokens.jwksHandler({ method: 'GET' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json')
    expect(await response.json()).toEqual(tokens.jwks())
    expect(tokens.jwksHandler({ method: 'POST' }).status).toBe(405)
  })

  it('names the option at fault at construction', () => {
    const keys = rotatingKey(pem()).source
    expect(() => internalTokens({ issuer, keys, actor: edge, ttlSeconds: 301 })).toThrow(
      'internalTokens: "ttlSeconds" option must be a positive integer number of seconds, at most 300',
    )
    expect(() => internalTokens({ issuer, keys })).toThrow('internalTokens: "actor" option is required')
    expect(() => internalTokens({ issuer, keys, actor: edge, overlapSeconds: 10 })).toThrow(
      'internalTokens: "overlapSeconds" option must be at least "ttlSeconds"',
    )
    expect(() => internalTokens({ issuer, keys: { current: () => 'nope' }, actor: edge })).toThrow(
      'internalTokens: "keys" option must hold a private signing key',
    )
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const publicPem = publicKey.export({ format: 'pem', type: 'spki' }) as string
    expect(() => internalTokens({ issuer, keys: { current: () => publicPem }, actor: edge })).toThrow(
      TypeError,
    )
    expect(() => internalTokens({ issuer, keys, actor: edge, algorithm: 'RS256' })).toThrow(
      'internalTokens: "keys" option must hold a private signing key: a ES256 key cannot sign RS256',
    )
  })
})

describe('refusals downstream', () => {
  it('a token for another audience is refused by the downstream service', async () => {
    const tokens = internalTokens({ issuer, keys: rotatingKey(pem()).source, actor: edge })
    const minted = tokens.mint(userAuth(), { audience: 'api://orders' })
    const billing = jwtBearer({
      issuer,
      audience: 'api://billing',
      algorithms: ['ES256'],
      jwks: tokens.jwks() as never,
    })
    const error = await refusal(billing.authenticate(bearer(minted.value)))
    expect({ code: error.code, status: error.status }).toEqual({ code: 'invalid_token', status: 401 })
  })
})
