// One server of the peers benchmark: `tsx peers/server.ts <contender id>`, with the issuer's settings
// (`ServerSettings`) as JSON in the PEERS_SETTINGS environment variable. It listens on 127.0.0.1 with a
// port the OS picks, prints `{"port":N}` on one line, and serves GET /orders until it is killed; `mark`
// on stdin prints `{"cpu":N}`, the CPU microseconds (user + system) it has used so far.
import { createPublicKey, type JsonWebKeyInput } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import fastifyJwt from '@fastify/jwt'
import { serve } from '@hono/node-server'
import { authenticate as expressAuthenticate } from '@zerotrust/express'
import { zeroTrust } from '@zerotrust/fastify'
import { authenticate as honoAuthenticate } from '@zerotrust/hono'
import { jwtBearer } from '@zerotrust/jwt'
import { authenticate as koaAuthenticate } from '@zerotrust/koa'
import express, { type ErrorRequestHandler } from 'express'
import { expressjwt, type GetVerificationKey } from 'express-jwt'
import { auth as oauth2JwtBearer } from 'express-oauth2-jwt-bearer'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import buildGetJwks from 'get-jwks'
import { Hono, type MiddlewareHandler } from 'hono'
import { jwk } from 'hono/jwk'
import jwksRsa from 'jwks-rsa'
import Koa from 'koa'
import koaJwt from 'koa-jwt'
import { contenders, type ServerSettings } from './contenders.js'

// tsx turns source maps on for the process; a client that closes its connections at the end of a burst
// makes Node build the stack of each aborted request's error, which source maps make costly. No server
// here needs them, and none should pay for them.
process.setSourceMapsEnabled(false)
const id = process.argv[2]
const contender = contenders.find((c) => c.id === id)
const settings = JSON.parse(process.env.PEERS_SETTINGS ?? 'null') as ServerSettings | null
if (contender === undefined || settings === null) {
  console.error(`usage: PEERS_SETTINGS=<json> tsx peers/server.ts <${contenders.map((c) => c.id).join('|')}>`)
  process.exit(2)
}
const { issuer, jwksUri, audience, algorithm } = settings
type HonoKeys = Extract<NonNullable<Parameters<typeof jwk>[0]['keys']>, readonly unknown[]>
const body = { orders: [{ id: '1', item: 'tea', quantity: 2 }] }

// zerotrust with its defaults: keys from the JWKS URL, the verified-token cache on (10,000 tokens).
const zeroTrustTokens = () => jwtBearer({ issuer, audience, algorithms: [algorithm], jwksUri })

// jwks-rsa as its README sets it up for express-jwt and koa-jwt: keys cached, JWKS requests rate-limited.
const jwksSecret = { jwksUri, cache: true, rateLimit: true, jwksRequestsPerMinute: 10 }

// Every Express server answers an error the same way, so no contender pays for Express's HTML page.
const expressErrors: ErrorRequestHandler = (error, _req, res, _next) => {
  const status = (error as { status?: number }).status ?? 500
  res.status(status).json({ error: status === 401 ? 'invalid_token' : 'error' })
}

function expressApp(guard?: express.RequestHandler): Promise<number> {
  const app = express()
  if (guard !== undefined) app.use(guard)
  app.get('/orders', (_req, res) => {
    res.json(body)
  })
  app.use(expressErrors)
  return listen(createServer(app))
}

function koaApp(guard?: Koa.Middleware): Promise<number> {
  const app = new Koa()
  app.silent = true
  if (guard !== undefined) app.use(guard)
  app.use((ctx) => {
    if (ctx.path === '/orders') ctx.body = body
  })
  return listen(createServer(app.callback()))
}

// biome-ignore lint/suspicious/noExplicitAny: each guard types its own context variables
function honoApp(guard?: MiddlewareHandler<any>): Promise<number> {
  const app = new Hono()
  if (guard !== undefined) app.use(guard)
  app.get('/orders', (c) => c.json(body))
  return new Promise((resolve) => {
    serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port))
  })
}

async function fastifyApp(setup?: (app: FastifyInstance) => Promise<void>): Promise<number> {
  const app = Fastify()
  if (setup !== undefined) await setup(app)
  app.get('/orders', async () => body)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

// @fastify/jwt as its README pairs it with get-jwks, the key found by the token's `kid` at our one issuer
// (the README's `domain: iss` would fetch from whatever issuer a token names; get-jwks's allow-list then
// answers a foreign issuer with a 500); `cache` adds fast-jwt's verified-token cache (1,000 tokens).
// get-jwks caches the JWK but its `getPublicKey` converts it to PEM on every call, in pure JavaScript
// (jwk-to-pem): milliseconds of CPU for an EC key (8 ms on the loaded machine of RESULTS.md), which would
// make the plugin look a hundred times slower than it is. The PEM is kept per cached JWK instead,
// converted by node:crypto once, as a production setup would.
function fastifyJwtSetup(cache: boolean) {
  return async (app: FastifyInstance) => {
    const getJwks = buildGetJwks({ issuersWhitelist: [issuer], jwksPath: new URL(jwksUri).pathname })
    const pems = new WeakMap<object, string>()
    await app.register(fastifyJwt, {
      decode: { complete: true },
      secret: async (_request: FastifyRequest, token: unknown) => {
        const { header } = token as { header: { kid: string; alg: string } }
        const key = await getJwks.getJwk({ kid: header.kid, alg: header.alg, domain: issuer })
        let pem = pems.get(key)
        if (pem === undefined) {
          pem = createPublicKey({ key: key as JsonWebKeyInput['key'], format: 'jwk' })
            .export({ type: 'spki', format: 'pem' })
            .toString()
          pems.set(key, pem)
        }
        return pem
      },
      verify: { algorithms: [algorithm], allowedIss: issuer, allowedAud: audience, cache },
    })
    app.addHook('onRequest', async (request) => {
      await request.jwtVerify()
    })
  }
}

async function start(): Promise<number> {
  switch (id) {
    case 'express-bare':
      return expressApp()
    case 'express-zerotrust':
      return expressApp(expressAuthenticate(zeroTrustTokens()))
    // Discovers the JWKS from the issuer's metadata and caches the keys (no verified-token cache).
    case 'express-oauth2-jwt-bearer':
      return expressApp(oauth2JwtBearer({ issuerBaseURL: issuer, audience, tokenSigningAlg: algorithm }))
    case 'express-jwt':
      return expressApp(
        expressjwt({
          secret: jwksRsa.expressJwtSecret(jwksSecret) as GetVerificationKey,
          audience,
          issuer,
          algorithms: [algorithm],
        }),
      )
    case 'fastify-bare':
      return fastifyApp()
    case 'fastify-zerotrust':
      return fastifyApp(async (app) => {
        await app.register(zeroTrust, { authenticator: zeroTrustTokens() })
      })
    case 'fastify-jwt':
      return fastifyApp(fastifyJwtSetup(false))
    case 'fastify-jwt-cache':
      return fastifyApp(fastifyJwtSetup(true))
    case 'koa-bare':
      return koaApp()
    case 'koa-zerotrust':
      return koaApp(koaAuthenticate(zeroTrustTokens()))
    case 'koa-jwt':
      return koaApp(
        koaJwt({
          secret: jwksRsa.koaJwtSecret(jwksSecret),
          audience,
          issuer,
          algorithms: [algorithm],
        }),
      )
    case 'hono-bare':
      return honoApp()
    case 'hono-zerotrust':
      return honoApp(honoAuthenticate(zeroTrustTokens()))
    // hono/jwk has no key cache: given `jwks_uri` it fetches the set on every request. The set is
    // fetched once here and handed over as `keys`, the fastest way to run it.
    case 'hono-jwk': {
      const response = await fetch(jwksUri)
      const { keys } = (await response.json()) as { keys: HonoKeys }
      return honoApp(
        jwk({ keys, alg: [algorithm], verification: { iss: issuer, aud: audience, typ: 'at+jwt' } }),
      )
    }
    default:
      throw new Error(`no server for "${id}"`)
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  )
}

start().then(
  (port) => console.log(JSON.stringify({ port })),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)

process.stdin.setEncoding('utf8')
process.stdin.on('data', () => {
  const { user, system } = process.cpuUsage()
  console.log(JSON.stringify({ cpu: user + system }))
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0))
