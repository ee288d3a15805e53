// One mutual-TLS benchmark server: `tsx server.ts <framework> <bare|workload>`, or `tsx server.ts tls
// bare` for Node's https server without a framework, with the SVID directory in ZT_BENCH_SVID_DIR. It
// serves its own SVID through svidFiles and serverTls, listens on 127.0.0.1 with a port the OS picks,
// prints `{"port":N}` on one line, and serves GET /orders until it is killed. `workload` mounts
// authenticate(workloadIdentity({ source: 'mtls' })): the caller's SPIFFE ID read from the verified
// client certificate of the connection, per request.
import { createServer, type Server } from 'node:https'
import { serve } from '@hono/node-server'
import { authenticate as expressAuthenticate } from '@zerotrust/express'
import { zeroTrust } from '@zerotrust/fastify'
import { authenticate as honoAuthenticate } from '@zerotrust/hono'
import { authenticate as koaAuthenticate } from '@zerotrust/koa'
import { serverTls, svidFiles, workloadIdentity } from '@zerotrust/workload'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'

const frameworks = ['tls', 'express', 'fastify', 'koa', 'hono'] as const
type Framework = (typeof frameworks)[number]
const modes = ['bare', 'workload'] as const
const [framework, mode] = process.argv.slice(2) as [Framework, (typeof modes)[number]]
const dir = process.env.ZT_BENCH_SVID_DIR
if (!frameworks.includes(framework) || !modes.includes(mode) || dir === undefined) {
  console.error('usage: ZT_BENCH_SVID_DIR=<dir> tsx server.ts <tls|express|fastify|koa|hono> <bare|workload>')
  process.exit(2)
}
const tls = serverTls(svidFiles({ dir }))
const callers = workloadIdentity({ source: 'mtls', trustDomains: ['prod.example.com'] })
const body = { orders: [{ id: '1', item: 'tea', quantity: 2 }] }
const guarded = mode === 'workload'
const json = JSON.stringify(body)

async function start(): Promise<number> {
  switch (framework) {
    case 'tls':
      return listen(
        createServer(tls, (_req, res) => {
          res.setHeader('content-type', 'application/json')
          res.end(json)
        }),
      )
    case 'express': {
      const app = express()
      if (guarded) app.use(expressAuthenticate(callers))
      app.get('/orders', (_req, res) => {
        res.json(body)
      })
      return listen(createServer(tls, app))
    }
    case 'fastify': {
      const app = Fastify({ https: { ...tls } })
      tls.attach(app.server as unknown as Server)
      if (guarded) await app.register(zeroTrust, { authenticator: callers })
      app.get('/orders', async () => body)
      await app.listen({ port: 0, host: '127.0.0.1' })
      return (app.server.address() as { port: number }).port
    }
    case 'koa': {
      const app = new Koa()
      if (guarded) app.use(koaAuthenticate(callers))
      app.use((ctx) => {
        if (ctx.path === '/orders') ctx.body = body
      })
      return listen(createServer(tls, app.callback()))
    }
    case 'hono': {
      const app = new Hono()
      if (guarded) app.use(honoAuthenticate(callers))
      app.get('/orders', (c) => c.json(body))
      return new Promise((resolve) => {
        const server = serve(
          { fetch: app.fetch, port: 0, hostname: '127.0.0.1', createServer, serverOptions: { ...tls } },
          (info) => resolve(info.port),
        )
        tls.attach(server as unknown as Server)
      })
    }
  }
}

function listen(server: Server): Promise<number> {
  tls.attach(server)
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  )
}

start().then((port) => console.log(JSON.stringify({ port })))

// The runner reads how much CPU this process spent between two marks. `mark` on stdin prints the CPU
// microseconds used since start.
process.stdin.setEncoding('utf8')
process.stdin.on('data', () => {
  const { user, system } = process.cpuUsage()
  console.log(JSON.stringify({ cpu: user + system }))
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0))
