import { describe, expect, it } from 'vitest'
import { adapterSettings, attachContext, checkAuthorizer, contextOf } from './adapter.js'
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

  it('rejects mistakes with a message naming the option', () => {
    expect(() => adapterSettings({} as Authenticator)).toThrow(/needs an authenticator/)
    expect(() => adapterSettings(authenticator, { onDecision: 'log' as never })).toThrow(
      /"onDecision" option/,
    )
    expect(() => adapterSettings(authenticator, { realm: 3 as never })).toThrow(/"realm" option/)
    expect(() => adapterSettings(authenticator, { publicOrigin: 'x' })).toThrow(/"publicOrigin" option/)
    expect(() => adapterSettings(authenticator, null as never)).toThrow(TypeError)
  })
})

describe('checkAuthorizer', () => {
  it('accepts an authorizer and rejects anything else', () => {
    expect(() =>
      checkAuthorizer({ layer: 'a', authorize: async () => ({ allowed: true }) } as Authorizer),
    ).not.toThrow()
    expect(() => checkAuthorizer(undefined as never)).toThrow(/needs an authorizer/)
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
