import { describe, expect, it } from 'vitest'
import { requestLike } from '../test/request-like.js'
import { anyOf } from './any-of.js'
import type { Auth, Authenticator } from './auth.js'
import { requireClaims } from './require-claims.js'
import { requireScopes } from './require-scopes.js'

const auth = (claims: Record<string, unknown>, scopes: string[] = []): Auth => ({
  subject: 's',
  issuer: 'i',
  audience: [],
  clientId: undefined,
  scopes,
  claims,
  scheme: 'DPoP',
  format: 'jwt',
  expiresAt: undefined,
  cnf: undefined,
})
const req = requestLike()

describe('requireScopes', () => {
  it('requires every scope by default', async () => {
    const authorizer = requireScopes(['a', 'b'])
    expect((await authorizer.authorize(req, auth({}, ['a', 'b', 'c']))).allowed).toBe(true)
    const denied = await authorizer.authorize(req, auth({}, ['a']))
    expect(denied.allowed).toBe(false)
    if (!denied.allowed) {
      expect(denied.error).toMatchObject({ code: 'insufficient_scope', scope: ['a', 'b'] })
      // The challenge names the scheme the token came with.
      expect(denied.error.challenges).toEqual([{ scheme: 'DPoP' }])
    }
  })

  it('accepts any one scope with match "any"', async () => {
    const authorizer = requireScopes(['a', 'b'], { match: 'any' })
    expect((await authorizer.authorize(req, auth({}, ['b']))).allowed).toBe(true)
    expect((await authorizer.authorize(req, auth({}, ['c']))).allowed).toBe(false)
  })

  it('rejects bad options at construction, in the one shape of option mistakes (issue 13)', () => {
    expect(() => requireScopes([])).toThrow(
      new TypeError('requireScopes: "scopes" option must name at least one scope'),
    )
    expect(() => requireScopes('has space')).toThrow(/^requireScopes: "scopes" option/)
    expect(() => requireScopes('a', { match: 'some' as 'any' })).toThrow(
      new TypeError('requireScopes: "match" option must be "all" or "any"'),
    )
  })
})

describe('requireClaims', () => {
  it('checks values, array membership and predicates', async () => {
    const authorizer = requireClaims({
      tenant: 'acme',
      groups: 'admin',
      level: (v) => typeof v === 'number' && v > 2,
    })
    expect(
      (await authorizer.authorize(req, auth({ tenant: 'acme', groups: ['x', 'admin'], level: 3 }))).allowed,
    ).toBe(true)
    const denied = await authorizer.authorize(req, auth({ tenant: 'acme', groups: ['x'], level: 3 }))
    expect(denied).toMatchObject({ allowed: false, error: { code: 'access_denied', reason: 'claim:groups' } })
  })

  it('does not read inherited properties as claims', async () => {
    const authorizer = requireClaims({ constructor: (v: unknown) => v !== undefined })
    expect((await authorizer.authorize(req, auth({}))).allowed).toBe(false)
  })

  it('rejects bad options at construction, in the one shape of option mistakes (issue 13)', () => {
    expect(() => requireClaims({})).toThrow(
      new TypeError('requireClaims: "checks" option must name at least one claim'),
    )
    expect(() => requireClaims({ a: null as unknown as string })).toThrow(/^requireClaims: "checks.a" option/)
    expect(() => requireClaims(null as never)).toThrow(/^requireClaims: "checks" option must be an object/)
  })
})

describe('anyOf', () => {
  const named = (layer: string, accepts?: boolean): Authenticator => ({
    layer,
    authenticate: async () => auth({ layer }),
    ...(accepts === undefined ? {} : { accepts: () => accepts }),
  })

  it('routes to the first authenticator that accepts the request', async () => {
    const combined = anyOf(named('jwt', false), named('opaque', true))
    expect((await combined.authenticate(req)).claims.layer).toBe('opaque')
    expect(combined.layer).toBe('jwt|opaque')
  })

  it('lets the first one answer when none accepts', async () => {
    const combined = anyOf(named('jwt', false), named('opaque', false))
    expect((await combined.authenticate(req)).claims.layer).toBe('jwt')
  })

  it('needs authenticators', () => {
    expect(() => anyOf()).toThrow(TypeError)
    expect(() => anyOf({} as Authenticator)).toThrow(/^anyOf: argument 0/)
  })
})
