import { generateKeyPairSync } from 'node:crypto'
import { type Auth, type Authenticator, isZeroTrustError, type RequestLike } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { describe, expect, it } from 'vitest'
import { actorChain } from './actor-chain.js'
import { internalTokens } from './internal-tokens.js'
import { maxActorDepth } from './max-actor-depth.js'

const issuer = 'https://edge.internal/'
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
  format: 'pem',
  type: 'pkcs8',
})

function bearer(token: string): RequestLike {
  return {
    method: 'GET',
    origin: 'https://billing.internal',
    target: '/charges',
    path: '/charges',
    headerValues: (name) => (name.toLowerCase() === 'authorization' ? [`Bearer ${token}`] : []),
  }
}

function user(act?: unknown): Auth {
  const exp = Math.floor(Date.now() / 1000) + 600
  return {
    subject: 'alice',
    issuer: 'https://idp.example.com/',
    audience: ['api://edge'],
    clientId: 'web',
    scopes: ['billing:read'],
    claims: act === undefined ? { sub: 'alice' } : { sub: 'alice', act },
    scheme: 'Bearer',
    format: 'jwt',
    expiresAt: exp,
    cnf: undefined,
  }
}

function chainOf(depth: number): unknown {
  let act: unknown
  for (let i = depth; i >= 1; i--) act = act === undefined ? { sub: `hop-${i}` } : { sub: `hop-${i}`, act }
  return act
}

async function refusal(layer: Authenticator, req: RequestLike) {
  const error = await Promise.resolve(layer.authenticate(req)).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isZeroTrustError(error)) throw new Error('expected a ZeroTrustError')
  return { code: error.code, status: error.status, reason: error.reason, challenges: error.challenges }
}

describe('maxActorDepth', () => {
  // Tokens whose act chain holds three actors: minted by a workload that acts on a chain of two.
  const minter = internalTokens({
    issuer,
    keys: { current: () => key as string },
    actor: 'spiffe://td/hop-0',
  })
  const verifier = jwtBearer({
    issuer,
    audience: 'api://billing',
    algorithms: ['ES256'],
    jwks: minter.jwks() as never,
  })

  it('accepts a chain as deep as the bound, and a token without act', async () => {
    const layer = maxActorDepth(verifier, { maxDepth: 3 })
    const token = minter.mint(user(chainOf(2)), { audience: 'api://billing' })
    const auth = await layer.authenticate(bearer(token.value))
    expect(actorChain(auth).map((actor) => actor.sub)).toEqual(['spiffe://td/hop-0', 'hop-1', 'hop-2'])
  })

  it('refuses a chain deeper than the bound with 401 invalid_token and a reason (issue 17)', async () => {
    const layer = maxActorDepth(verifier, { maxDepth: 2, realm: 'billing' })
    const token = minter.mint(user(chainOf(2)), { audience: 'api://billing' })
    expect(await refusal(layer, bearer(token.value))).toEqual({
      code: 'invalid_token',
      status: 401,
      reason: 'actor_chain_too_deep',
      challenges: [{ scheme: 'Bearer', params: { realm: 'billing' } }],
    })
  })

  it('refuses a malformed act, and reads chains iteratively whatever their depth', () => {
    expect(() => actorChain(user('spiffe://td/edge'))).toThrow(
      expect.objectContaining({ reason: 'malformed_actor' }),
    )
    expect(() => actorChain(user({ sub: 7 }))).toThrow(expect.objectContaining({ reason: 'malformed_actor' }))
    expect(() => actorChain(user({ sub: 'a', act: [] }))).toThrow(
      expect.objectContaining({ reason: 'malformed_actor' }),
    )
    expect(() => actorChain(user(chainOf(10_000)))).toThrow(
      expect.objectContaining({ reason: 'actor_chain_too_deep' }),
    )
    expect(actorChain(user())).toEqual([])
  })

  it('names the option at fault', () => {
    expect(() => maxActorDepth(verifier, { maxDepth: 0 })).toThrow(
      'maxActorDepth: "maxDepth" option must be a positive integer, at most 32',
    )
    expect(() => maxActorDepth({} as Authenticator, { maxDepth: 2 })).toThrow(TypeError)
  })
})
