import { describe, expect, it } from 'vitest'
import { requestLike } from '../test/request-like.js'
import { allOf } from './all-of.js'
import { anyOf } from './any-of.js'
import type { Auth, Authenticator, Workload } from './auth.js'
import { type DecisionEvent, runAuthentication } from './decision.js'
import { ZeroTrustError } from './errors.js'

const checkout: Workload = {
  id: 'spiffe://prod.example.com/checkout',
  trustDomain: 'prod.example.com',
  path: '/checkout',
  proof: 'mtls',
}

// What workloadIdentity answers on its own: the workload and no token.
const workloadAuth = (workload: Workload): Auth => ({
  subject: workload.id,
  issuer: undefined,
  audience: [],
  clientId: undefined,
  scopes: [],
  claims: {},
  scheme: 'mtls',
  format: 'x509',
  expiresAt: undefined,
  cnf: undefined,
  workload,
})

const userAuth: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: ['api://orders'],
  clientId: 'web',
  scopes: ['orders:read'],
  claims: { sub: 'alice' },
  scheme: 'DPoP',
  format: 'jwt',
  expiresAt: 2_000_000_000,
  cnf: { jkt: 'k' },
  responseHeaders: { 'DPoP-Nonce': 'n1' },
}

const answering = (layer: string, auth: Auth, calls: string[] = []): Authenticator => ({
  layer,
  authenticate: async () => {
    calls.push(layer)
    return auth
  },
})
const refusing = (layer: string, calls: string[] = []): Authenticator => ({
  layer,
  authenticate: async () => {
    calls.push(layer)
    throw new ZeroTrustError('unauthenticated_workload', 'no certificate', {
      reason: 'no_client_certificate',
    })
  },
})
const req = requestLike()

describe('allOf (issue 15)', () => {
  it("answers the user's Auth with the workload beside it", async () => {
    const both = allOf(answering('workload', workloadAuth(checkout)), answering('jwt', userAuth))
    const auth = await both.authenticate(req)
    expect(auth).toEqual({ ...userAuth, workload: checkout })
    expect(Object.isFrozen(auth)).toBe(true)
    expect(both.layer).toBe('workload&jwt')
  })

  it('finds the user whatever the order', async () => {
    const both = allOf(answering('jwt', userAuth), answering('workload', workloadAuth(checkout)))
    expect(await both.authenticate(req)).toEqual({ ...userAuth, workload: checkout })
  })

  it('answers the first refusal and runs nothing after it', async () => {
    const calls: string[] = []
    const both = allOf(refusing('workload', calls), answering('jwt', userAuth, calls))
    await expect(Promise.resolve(both.authenticate(req))).rejects.toMatchObject({
      code: 'unauthenticated_workload',
      status: 401,
      reason: 'no_client_certificate',
    })
    expect(calls).toEqual(['workload'])
  })

  it('refuses when the user authenticator refuses after the workload was proven', async () => {
    const missing: Authenticator = {
      layer: 'jwt',
      authenticate: async () => {
        throw new ZeroTrustError('missing_credentials', 'no token')
      },
    }
    const both = allOf(answering('workload', workloadAuth(checkout)), missing)
    await expect(Promise.resolve(both.authenticate(req))).rejects.toMatchObject({
      code: 'missing_credentials',
      status: 401,
    })
  })

  it('refuses two different workloads', async () => {
    const other = { ...checkout, id: 'spiffe://prod.example.com/billing', path: '/billing' }
    const two = allOf(answering('a', workloadAuth(checkout)), answering('b', workloadAuth(other)))
    await expect(Promise.resolve(two.authenticate(req))).rejects.toMatchObject({
      code: 'unauthenticated_workload',
      reason: 'workload_mismatch',
    })
    // The same workload proven twice is one workload.
    const same = allOf(answering('a', workloadAuth(checkout)), answering('b', workloadAuth(checkout)))
    expect((await same.authenticate(req)).workload).toEqual(checkout)
  })

  it('answers the workload alone when no token is involved', async () => {
    const alone = allOf(answering('workload', workloadAuth(checkout)))
    expect(await alone.authenticate(req)).toEqual(workloadAuth(checkout))
  })

  it('reports one event with the subject and the workload id', async () => {
    const events: DecisionEvent[] = []
    const both = allOf(answering('workload', workloadAuth(checkout)), answering('jwt', userAuth))
    await runAuthentication(both, req, (e) => events.push(e))
    expect(events).toEqual([
      expect.objectContaining({
        layer: 'workload&jwt',
        outcome: 'allow',
        subject: 'alice',
        workload: 'spiffe://prod.example.com/checkout',
      }),
    ])
  })

  it('accepts a request only when every authenticator does, so it composes with anyOf', async () => {
    const no: Authenticator = { ...answering('jwt', userAuth), accepts: () => false }
    expect(allOf(answering('workload', workloadAuth(checkout)), no).accepts?.(req)).toBe(false)
    const composed = anyOf(allOf(no), answering('opaque', userAuth))
    expect((await composed.authenticate(req)).subject).toBe('alice')
  })

  it('answers at once when every authenticator does, and awaits from the first that does not (issue 14)', async () => {
    const at = (layer: string, auth: Auth, calls: string[]): Authenticator => ({
      layer,
      authenticate: () => {
        calls.push(layer)
        return auth
      },
    })
    const calls: string[] = []
    const both = allOf(at('workload', workloadAuth(checkout), calls), at('jwt', userAuth, calls))
    const answer = both.authenticate(requestLike({}))
    expect(answer).not.toBeInstanceOf(Promise)
    expect(answer).toMatchObject({ subject: 'alice', workload: checkout })

    calls.length = 0
    const mixed = allOf(
      at('workload', workloadAuth(checkout), calls),
      answering('introspection', userAuth, calls),
      at('last', userAuth, calls),
    )
    const later = mixed.authenticate(requestLike({}))
    expect(later).toBeInstanceOf(Promise)
    await expect(later).resolves.toMatchObject({ subject: 'alice', workload: checkout })
    expect(calls).toEqual(['workload', 'introspection', 'last'])
  })

  it('turns a synchronous throw into a rejected promise, and runs nothing after it', async () => {
    const calls: string[] = []
    const throwing: Authenticator = {
      layer: 'workload',
      authenticate: () => {
        throw new ZeroTrustError('unauthenticated_workload', 'no certificate')
      },
    }
    const answer = allOf(throwing, answering('jwt', userAuth, calls)).authenticate(requestLike({}))
    expect(answer).toBeInstanceOf(Promise)
    await expect(answer).rejects.toMatchObject({ code: 'unauthenticated_workload' })
    expect(calls).toEqual([])
  })

  it('needs authenticators', () => {
    expect(() => allOf()).toThrow(TypeError)
    expect(() => allOf({} as Authenticator)).toThrow(/^allOf: argument 0/)
  })
})
