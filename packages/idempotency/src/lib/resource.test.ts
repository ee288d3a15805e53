import { fromFetchRequest, noOrigin, withRoute } from '@zerotrust/core/adapter'
import { describe, expect, it } from 'vitest'
import { resourceOf } from './resource.js'

const view = (target: string, route?: string, params?: Record<string, string>) => {
  const base = fromFetchRequest(new Request(`http://127.0.0.1${target}`, { method: 'POST' }), {
    resolveOrigin: noOrigin,
  })
  return route === undefined ? base : withRoute(base, route, params)
}

describe('resourceOf (issue 12: keys scoped by the route, not the raw path)', () => {
  it('names a routed request by its pattern and parameters, whatever spelling of the path matched it', () => {
    const a = resourceOf(view('/orders/7/?x=1', '/orders/:id', { id: '7' }))
    const b = resourceOf(view('/Orders/7?x=1', '/orders/:id', { id: '7' }))
    expect(a).toEqual(b)
    expect(a.scope).toEqual(['/orders/:id', [['id', '7']]])
    // The query stays part of the target the fingerprint hashes.
    expect(a.target).toMatch(/\?x=1$/)
    expect(resourceOf(view('/orders/7?x=2', '/orders/:id', { id: '7' })).target).not.toBe(a.target)
  })

  it('keeps parameters apart: another value is another resource, their order is not', () => {
    const one = resourceOf(view('/t/a/o/7', '/t/:tenant/o/:id', { tenant: 'a', id: '7' }))
    expect(resourceOf(view('/t/b/o/7', '/t/:tenant/o/:id', { tenant: 'b', id: '7' })).scope).not.toEqual(
      one.scope,
    )
    expect(resourceOf(view('/t/a/o/7', '/t/:tenant/o/:id', { id: '7', tenant: 'a' }))).toEqual(one)
  })

  it('names a request by its path where no route is known, as before route scoping', () => {
    expect(resourceOf(view('/orders/7/?x=1'))).toEqual({ scope: '/orders/7/', target: '/orders/7/?x=1' })
  })

  it.each([
    ['an unnamed wildcard (Hono, Fastify)', '/files/*', {}],
    ['a wildcard whose value is missing', '/files/*rest', {}],
    ['a parameter without a value (a mount parameter without mergeParams)', '/t/:tenant/orders', {}],
    ['a regular-expression group', '/files/(.*)', {}],
    ['an empty pattern', '', {}],
  ])(
    'falls back to the path for a pattern that leaves part of the path unnamed: %s',
    (_name, route, params) => {
      const resource = resourceOf(view('/t/a/orders/x', route, params))
      expect(resource).toEqual({ scope: '/t/a/orders/x', target: '/t/a/orders/x' })
    },
  )

  it('uses a pattern whose every parameter and named wildcard has a value', () => {
    const named = resourceOf(view('/files/a/b', '/files/*rest', { rest: '["a","b"]' }))
    expect(named.scope).toEqual(['/files/*rest', [['rest', '["a","b"]']]])
    const constrained = resourceOf(view('/p/12', '/p/:id{[0-9]+}', { id: '12' }))
    expect(constrained.scope).toEqual(['/p/:id{[0-9]+}', [['id', '12']]])
  })
})
