import { describe, expect, it } from 'vitest'
import { type AuthClaim, type ClaimsToAuthOptions, claimsToAuth } from './claims-to-auth.js'
import { ZeroTrustError } from './errors.js'

// Issue 13, item 5: one claims-to-Auth for jwt (a bad claim is a bad token, 401) and introspection (a bad
// member is a bad answer, 503); each layer brings its own error.
const asToken = (claim: AuthClaim) =>
  new ZeroTrustError('invalid_token', `unexpected "${claim}" claim value`, { reason: `claim:${claim}` })
const asAnswer = () =>
  new ZeroTrustError('dependency_unavailable', 'malformed answer', { reason: 'introspection_malformed' })

const jwt: ClaimsToAuthOptions = { scheme: 'Bearer', format: 'jwt', invalidClaim: asToken }
const opaque: ClaimsToAuthOptions = { scheme: 'Bearer', format: 'opaque', invalidClaim: asAnswer }

function refusal(claims: Record<string, unknown>, options: ClaimsToAuthOptions): unknown {
  try {
    claimsToAuth(claims, options)
  } catch (error) {
    return error
  }
  throw new Error('expected a refusal')
}

describe('claimsToAuth (issue 13)', () => {
  it('maps the claims of a JWT access token', () => {
    const auth = claimsToAuth(
      {
        sub: 'alice',
        iss: 'https://idp.example.com/',
        aud: ['api://orders', 'api://billing'],
        client_id: 'web',
        scope: 'orders:read  orders:write',
        exp: 1_900_000_000,
        cnf: { jkt: 'thumbprint' },
        tenant: { id: 't1' },
      },
      { ...jwt, scheme: 'DPoP' },
    )
    expect(auth).toEqual({
      subject: 'alice',
      issuer: 'https://idp.example.com/',
      audience: ['api://orders', 'api://billing'],
      clientId: 'web',
      scopes: ['orders:read', 'orders:write'],
      claims: expect.objectContaining({ tenant: { id: 't1' } }),
      scheme: 'DPoP',
      format: 'jwt',
      expiresAt: 1_900_000_000,
      cnf: { jkt: 'thumbprint' },
    })
  })

  it('maps an introspection answer, and an empty one', () => {
    const auth = claimsToAuth({ active: true, aud: 'api://orders', scope: 'a b', client_id: 'web' }, opaque)
    expect(auth).toMatchObject({ audience: ['api://orders'], scopes: ['a', 'b'], clientId: 'web' })
    expect(auth.format).toBe('opaque')
    expect(claimsToAuth({}, opaque)).toMatchObject({
      subject: undefined,
      issuer: undefined,
      audience: [],
      clientId: undefined,
      scopes: [],
      expiresAt: undefined,
      cnf: undefined,
    })
  })

  it('freezes the Auth and every claim, deeply', () => {
    const claims = { sub: 'alice', aud: ['api://orders'], scp: ['a'], nested: { list: [{ x: 1 }] } }
    const auth = claimsToAuth(claims, jwt)
    expect(Object.isFrozen(auth)).toBe(true)
    expect(Object.isFrozen(auth.audience)).toBe(true)
    expect(Object.isFrozen(auth.scopes)).toBe(true)
    expect(auth.claims).toBe(claims)
    expect(Object.isFrozen(claims.nested.list[0])).toBe(true)
  })

  it('freezes a claim nested 100 000 deep without overflowing the stack', () => {
    let nested: unknown = []
    for (let i = 0; i < 100_000; i++) nested = [nested]
    expect(claimsToAuth({ sub: 'alice', nested }, opaque).subject).toBe('alice')
  })

  it('reads azp and scp in a JWT only, where client_id and scope are absent', () => {
    expect(claimsToAuth({ azp: 'spa', scp: ['a', 'b'] }, jwt)).toMatchObject({
      clientId: 'spa',
      scopes: ['a', 'b'],
    })
    expect(claimsToAuth({ scp: 'a  b' }, jwt).scopes).toEqual(['a', 'b'])
    expect(claimsToAuth({ azp: 'spa', scp: ['a'] }, opaque)).toMatchObject({
      clientId: undefined,
      scopes: [],
    })
    // The standard claim wins, and the stand-in is then not read at all.
    expect(claimsToAuth({ client_id: 'web', azp: 7, scope: 'x', scp: 7 }, jwt)).toMatchObject({
      clientId: 'web',
      scopes: ['x'],
    })
  })

  it.each<[string, Record<string, unknown>, AuthClaim]>([
    ['a numeric "sub"', { sub: 42 }, 'sub'],
    ['an object "iss"', { iss: { href: 'https://idp.example.com/' } }, 'iss'],
    ['a numeric "aud"', { aud: 1 }, 'aud'],
    ['an "aud" array with a number', { aud: ['api://orders', 1] }, 'aud'],
    ['a numeric "client_id"', { client_id: 1 }, 'client_id'],
    ['a numeric "azp"', { azp: 1 }, 'azp'],
    ['an array "scope"', { scope: ['a'] }, 'scope'],
    ['a "scp" array with a number', { scp: ['a', 1] }, 'scp'],
    ['an object "scp"', { scp: { a: true } }, 'scp'],
    ['a string "exp"', { exp: 'tomorrow' }, 'exp'],
    ['an infinite "exp"', { exp: Number.POSITIVE_INFINITY }, 'exp'],
    ['a string "cnf"', { cnf: 'thumbprint' }, 'cnf'],
    ['a "cnf" array', { cnf: ['thumbprint'] }, 'cnf'],
    ['a numeric "cnf.jkt"', { cnf: { jkt: 1 } }, 'cnf'],
    ['a numeric "cnf.x5t#S256"', { cnf: { 'x5t#S256': 1 } }, 'cnf'],
  ])('refuses %s with the caller’s own error', (_name, claims, claim) => {
    expect(refusal(claims, jwt)).toMatchObject({
      code: 'invalid_token',
      status: 401,
      reason: `claim:${claim}`,
    })
    if (claim === 'azp' || claim === 'scp') return
    expect(refusal(claims, opaque)).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'introspection_malformed',
    })
  })

  it('refuses for the first bad claim in a fixed order: sub, client_id, iss, aud, exp, scope, cnf', () => {
    const bad = { sub: 1, client_id: 1, iss: 1, aud: 1, exp: '1', scope: 1, cnf: 1 }
    const order: AuthClaim[] = ['sub', 'client_id', 'iss', 'aud', 'exp', 'scope', 'cnf']
    for (const claim of order) {
      expect(refusal({ ...bad }, jwt)).toMatchObject({ reason: `claim:${claim}` })
      delete (bad as Record<string, unknown>)[claim]
    }
  })
})
