import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { allOf } from './all-of.js'
import type { Auth, Authenticator, Workload } from './auth.js'
import { claimsToAuth } from './claims-to-auth.js'
import { ZeroTrustError } from './errors.js'
import { presentedToken, recordPresentedToken } from './presented-token.js'
import type { RequestLike } from './request.js'

const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS11c2Vy'

function userAuth(): Auth {
  return claimsToAuth(
    { sub: 'alice', iss: 'https://idp.example.com/', scope: 'orders:read' },
    {
      scheme: 'Bearer',
      format: 'jwt',
      invalidClaim: (claim) => new ZeroTrustError('invalid_token', `unexpected "${claim}" claim value`),
    },
  )
}

const checkout: Workload = {
  id: 'spiffe://prod.example.com/checkout',
  trustDomain: 'prod.example.com',
  path: '/checkout',
  proof: 'mtls',
}

const req = {
  method: 'GET',
  origin: 'https://api.example.com',
  target: '/',
  path: '/',
  headerValues: () => [],
} as RequestLike

const answering = (layer: string, auth: Auth): Authenticator => ({ layer, authenticate: async () => auth })

describe('presentedToken (issue 17)', () => {
  it('answers the token recorded for an Auth, and nothing for another Auth', () => {
    const auth = userAuth()
    expect(presentedToken(auth)).toBeUndefined()
    recordPresentedToken(auth, token)
    expect(presentedToken(auth)).toBe(token)
    expect(presentedToken(userAuth())).toBeUndefined()
    // A copy is another Auth: the token does not travel with spread or JSON.
    expect(presentedToken({ ...auth })).toBeUndefined()
  })

  it('keeps the token out of every way an Auth is printed or copied', () => {
    const auth = userAuth()
    recordPresentedToken(auth, token)
    expect(JSON.stringify(auth)).not.toContain(token)
    expect(inspect(auth, { showHidden: true, depth: 10 })).not.toContain(token)
    expect(JSON.stringify({ ...auth })).not.toContain(token)
    const own = Reflect.ownKeys(auth).map((key) => (auth as unknown as Record<PropertyKey, unknown>)[key])
    expect(own).not.toContain(token)
  })

  it("carries the user's token into the Auth allOf merges with a workload", async () => {
    const user = userAuth()
    recordPresentedToken(user, token)
    const workloadAuth: Auth = {
      ...userAuth(),
      subject: undefined,
      scheme: 'mtls',
      format: 'x509',
      workload: checkout,
    }
    const merged = await allOf(answering('workload', workloadAuth), answering('jwt', user)).authenticate(req)
    expect(merged).not.toBe(user)
    expect(merged.workload).toEqual(checkout)
    expect(presentedToken(merged)).toBe(token)
    // A workload proven without a token has none to pass on.
    const alone = await allOf(answering('workload', workloadAuth)).authenticate(req)
    expect(presentedToken(alone)).toBeUndefined()
  })
})
