import Router from '@koa/router'
import type { Auth, Authenticator } from '@zerotrust/core'
import Koa, { type DefaultState, type Middleware, type ParameterizedContext } from 'koa'
import { expectTypeOf, test } from 'vitest'
import { authenticate, authorize, errorHandler, requireScopes } from './index.js'

declare const tokens: Authenticator

test('ctx.state.auth is typed by declaration merging', () => {
  expectTypeOf<DefaultState['auth']>().toEqualTypeOf<Auth | undefined>()
  expectTypeOf<ParameterizedContext['state']['auth']>().toEqualTypeOf<Auth | undefined>()
  expectTypeOf<NonNullable<DefaultState['auth']>['scopes']>().toEqualTypeOf<readonly string[]>()
})

test('the middleware fits Koa apps and @koa/router routes', () => {
  expectTypeOf(authenticate(tokens)).toEqualTypeOf<Middleware>()
  expectTypeOf(errorHandler()).toEqualTypeOf<Middleware>()

  const app = new Koa<{ requestStart: number }>()
  app.use(errorHandler()).use(authenticate(tokens, { publicOrigin: 'https://api.example.com' }))
  const router = new Router()
  router.get('/orders', requireScopes('orders:read'), (ctx) => {
    expectTypeOf(ctx.state.auth).toEqualTypeOf<Auth | undefined>()
  })
  router.post('/orders', authorize({ layer: 'x', authorize: async () => ({ allowed: true }) }))
  app.use(router.routes())
})
