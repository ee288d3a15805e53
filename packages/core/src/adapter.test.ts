import { describe, expect, it } from 'vitest'
import { adapterSettings, attachContext, checkAuthorizer, checkRealm, contextOf } from './adapter.js'
import type { Authenticator, Authorizer } from './auth.js'

const authenticator = { layer: 'x', authenticate: async () => ({}) } as unknown as Authenticator

describe('adapterSettings', () => {
  it('resolves the configured origin and keeps the sink and realm', () => {
    const sink = () => {}
    const settings = adapterSettings(authenticator, {
      publicOrigin: 'https://api.example.com',
      onDecision: sink,
      realm: 'r',
    })
    expect(settings.resolveOrigin({ remoteAddress: undefined, headerValues: () => [] })).toBe(
      'https://api.example.com',
    )
    expect(settings).toMatchObject({ onDecision: sink, realm: 'r' })
    expect(Object.isFrozen(settings)).toBe(true)
  })

  it('rejects mistakes with a message naming the factory and the option (issue 13)', () => {
    expect(() => adapterSettings({} as Authenticator)).toThrow(/^authenticate: needs an authenticator/)
    expect(() => adapterSettings(authenticator, { onDecision: 'log' as never })).toThrow(
      new TypeError('authenticate: "onDecision" option must be a function'),
    )
    expect(() => adapterSettings(authenticator, { realm: 3 as never })).toThrow(
      new TypeError('authenticate: "realm" option must be a string'),
    )
    expect(() => adapterSettings(authenticator, { publicOrigin: 'x' })).toThrow(
      /^authenticate: "publicOrigin" option/,
    )
    expect(() => adapterSettings(authenticator, { trustProxy: 'yes' as never })).toThrow(
      /^authenticate: "trustProxy" option/,
    )
    expect(() => adapterSettings(authenticator, null as never)).toThrow(
      new TypeError('authenticate: options must be an object'),
    )
  })

  it("names the adapter's own function when it is not authenticate() (issue 13)", () => {
    expect(() => adapterSettings(authenticator, { realm: 3 as never }, 'zeroTrust')).toThrow(
      new TypeError('zeroTrust: "realm" option must be a string'),
    )
    expect(() => checkRealm(3)).toThrow(new TypeError('errorHandler: "realm" option must be a string'))
  })
})

describe('checkAuthorizer', () => {
  it('accepts an authorizer and rejects anything else', () => {
    expect(() =>
      checkAuthorizer({ layer: 'a', authorize: async () => ({ allowed: true }) } as Authorizer),
    ).not.toThrow()
    expect(() => checkAuthorizer(undefined as never)).toThrow(/^authorize: needs an authorizer/)
  })
})

describe('attachContext', () => {
  it('leaves the context on the request object, invisible to its keys and JSON', () => {
    const req = { url: '/' }
    const context = { view: {} as never, onDecision: undefined, realm: 'r' }
    expect(contextOf(req)).toBeUndefined()
    attachContext(req, context)
    expect(contextOf(req)).toBe(context)
    expect(Object.keys(req)).toEqual(['url'])
    expect(JSON.stringify(req)).toBe('{"url":"/"}')
  })
})
