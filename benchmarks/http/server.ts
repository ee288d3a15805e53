// One benchmark server: `tsx server.ts <framework> <bare|noop|protected|full>`, with the issuer's public JWK in the
// ZT_BENCH_JWK environment variable. It listens on 127.0.0.1 with a port the OS picks, prints
// `{"port":N}` on one line, and serves GET /orders until it is killed.
import { createServer, type Server } from 'node:http'
import { serve } from '@hono/node-server'
import { cedarAuthorizer } from '@zerotrust/cedar'
import { authenticate as expressAuthenticate } from '@zerotrust/express'
import { zeroTrust } from '@zerotrust/fastify'
import { authenticate as honoAuthenticate } from '@zerotrust/hono'
import { jwtBearer } from '@zerotrust/jwt'
import { authenticate as koaAuthenticate } from '@zerotrust/koa'
import { otelDecisions } from '@zerotrust/otel'
import { rateLimit } from '@zerotrust/ratelimit'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import type { JWK } from 'jose'
import Koa from 'koa'

// tsx turns source maps on for the process; a client that closes its connections at the end of a burst
// makes Node build the stack of each aborted request's error, which source maps make costly. No server
// here needs them, and none should pay for them.
process.setSourceMapsEnabled(false)
const frameworks = ['express', 'fastify', 'koa', 'hono'] as const
type Framework = (typeof frameworks)[number]
const issuer = 'https://idp.example.com/'
const audience = 'api://orders'

const modes = ['bare', 'noop', 'protected', 'full'] as const
const [framework, mode] = process.argv.slice(2) as [Framework, (typeof modes)[number]]
const jwk = JSON.parse(process.env.ZT_BENCH_JWK ?? 'null') as JWK | null
if (
  !frameworks.includes(framework) ||
  !modes.includes(mode) ||
  jwk === null ||
  (mode === 'full' && framework !== 'fastify')
) {
  console.error(
    'usage: ZT_BENCH_JWK=<jwk> tsx server.ts <express|fastify|koa|hono> <bare|noop|protected>, or fastify full',
  )
  process.exit(2)
}
const tokens = jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: { keys: [jwk] } })
const body = { orders: [{ id: '1', item: 'tea', quantity: 2 }] }
const protect = mode === 'protected'
// `noop` mounts the cheapest middleware or hook each framework takes, one that does nothing, where
// `protected` mounts authenticate(): what having any middleware at all costs, apart from ours.
const noop = mode === 'noop'
// `full` (Fastify only) is the stack a service runs: authentication, the route's scope, a Cedar policy,
// a per-identity rate limit that the load never exhausts, and every decision event to the OTel sink
// (no SDK registered: the API's no-op provider, as in a service that has not turned tracing on).
const full = mode === 'full'

async function start(): Promise<number> {
  switch (framework) {
    case 'express': {
      const app = express()
      if (protect) app.use(expressAuthenticate(tokens))
      if (noop) app.use((_req, _res, next) => next())
      app.get('/orders', (_req, res) => {
        res.json(body)
      })
      return listen(createServer(app))
    }
    case 'fastify': {
      const app = Fastify()
      if (protect) await app.register(zeroTrust, { authenticator: tokens })
      if (noop) app.addHook('onRequest', (_request, _reply, done) => done())
      if (full) {
        await app.register(zeroTrust, { authenticator: tokens, onDecision: otelDecisions() })
        const policies = cedarAuthorizer({
          policies: {
            text: '@id("readers") permit (principal, action == Action::"GET /orders", resource) when { context.scopes.contains("orders:read") };',
          },
          // The decision cache, as the Cedar README advises for a hot route: one user's repeat requests hit it.
          cache: { max: 10_000 },
        })
        const limits = rateLimit({ budgets: [{ name: 'default', limit: 1_000_000_000, windowSeconds: 60 }] })
        app.get(
          '/orders',
          { config: { zeroTrust: { scopes: 'orders:read', authorize: [limits, policies] } } },
          async () => body,
        )
      } else app.get('/orders', async () => body)
      await app.listen({ port: 0, host: '127.0.0.1' })
      return (app.server.address() as { port: number }).port
    }
    case 'koa': {
      const app = new Koa()
      if (protect) app.use(koaAuthenticate(tokens))
      if (noop) app.use((_ctx, next) => next())
      app.use((ctx) => {
        if (ctx.path === '/orders') ctx.body = body
      })
      return listen(createServer(app.callback()))
    }
    case 'hono': {
      const app = new Hono()
      if (protect) app.use(honoAuthenticate(tokens))
      if (noop) app.use((_c, next) => next())
      app.get('/orders', (c) => c.json(body))
      return new Promise((resolve) => {
        serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port))
      })
    }
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  )
}

start().then((port) => console.log(JSON.stringify({ port })))

// The runner reads how much CPU this process spent between two marks: less sensitive to a noisy machine
// than requests per second alone. `mark` on stdin prints the CPU microseconds used since start.
process.stdin.setEncoding('utf8')
process.stdin.on('data', () => {
  const { user, system } = process.cpuUsage()
  console.log(JSON.stringify({ cpu: user + system }))
})

// Exit cleanly when the runner stops this server, so that tools such as --cpu-prof can write out.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0))
