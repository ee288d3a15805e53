import type { HttpBindings } from '@hono/node-server'
import type { Auth, Authenticator } from '@zerotrust/core'
import { type ContextVariableMap, type ErrorHandler, Hono, type MiddlewareHandler } from 'hono'
import { expectTypeOf, test } from 'vitest'
import { authenticate, errorHandler, requireScopes, type ZeroTrustEnv } from './index.js'

declare const tokens: Authenticator

test('c.get("auth") is typed by declaration merging of ContextVariableMap', () => {
  expectTypeOf<ContextVariableMap['auth']>().toEqualTypeOf<Auth>()
  new Hono().get('/orders', (c) => {
    expectTypeOf(c.get('auth')).toEqualTypeOf<Auth>()
    expectTypeOf(c.var.auth.scopes).toEqualTypeOf<readonly string[]>()
    return c.text('ok')
  })
})

test('ZeroTrustEnv types apps that declare their Env', () => {
  expectTypeOf<ZeroTrustEnv['Variables']['auth']>().toEqualTypeOf<Auth>()
  const app = new Hono<ZeroTrustEnv & { Bindings: HttpBindings }>()
  app.use(authenticate(tokens, { publicOrigin: 'https://api.example.com' }))
  app.get('/orders', requireScopes('orders:read'), (c) => {
    expectTypeOf(c.get('auth')).toEqualTypeOf<Auth>()
    expectTypeOf(c.env.incoming.rawHeaders).toEqualTypeOf<string[]>()
    return c.json({ subject: c.var.auth.subject })
  })
})

test('the middleware and the error handler fit Hono', () => {
  expectTypeOf(authenticate(tokens)).toEqualTypeOf<MiddlewareHandler<ZeroTrustEnv>>()
  expectTypeOf(errorHandler()).toEqualTypeOf<ErrorHandler>()
  new Hono<{ Variables: { requestId: string } }>().onError(errorHandler({ realm: 'orders' }))
})
