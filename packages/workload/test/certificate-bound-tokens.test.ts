import { randomBytes } from 'node:crypto'
import { type Auth, anyOf } from '@zerotrust/core'
import { introspection } from '@zerotrust/introspection'
import { jwtBearer } from '@zerotrust/jwt'
import { startHttpServer, type TestHttpServer, testIssuer } from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverTls } from '../src/server-tls.js'
import { type SvidSource, svidFiles } from '../src/svid-files.js'
import {
  adapters,
  type CallResult,
  call,
  createPki,
  type MtlsApp,
  mountMtls,
  type Pki,
  svidDirectory,
} from './fixtures.js'

// RFC 8705 §3: a token bound to a client certificate (`cnf["x5t#S256"]`) is honoured only over a TLS
// connection that presents that certificate; over another, it is 401 invalid_token. For a JWT
// (jwtBearer) and an introspected token (introspection), on all four adapters over real mutual TLS
// (issue 15).
const issuer = 'https://idp.example.com/'
const audience = 'api://orders'
const now = () => Math.floor(Date.now() / 1000)

let pki: Pki
let directory: ReturnType<typeof svidDirectory>
let svid: SvidSource
let idp: Awaited<ReturnType<typeof testIssuer>>
let endpoint: TestHttpServer
/** What the introspection endpoint answers, per token. */
const answers = new Map<string, Record<string, unknown>>()

beforeAll(async () => {
  pki = await createPki()
  directory = svidDirectory(pki.server, pki.bundle)
  svid = svidFiles({ dir: directory.dir })
  idp = await testIssuer({ issuer, audience })
  // A real RFC 7662 endpoint on loopback: it answers what the test registered for the token it is sent.
  endpoint = await startHttpServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('token') ?? ''
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(answers.get(token) ?? { active: false }))
    })
  })
})
afterAll(async () => {
  svid.close()
  directory.remove()
  await endpoint.close()
})

function opaqueToken(x5t: string): string {
  const token = randomBytes(32).toString('base64url')
  answers.set(token, {
    active: true,
    iss: issuer,
    aud: audience,
    sub: 'alice',
    client_id: 'checkout',
    scope: 'orders:read',
    token_type: 'Bearer',
    iat: now(),
    exp: now() + 300,
    cnf: { 'x5t#S256': x5t },
  })
  return token
}

const authenticator = () =>
  anyOf(
    jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks }),
    introspection({
      issuer,
      audience,
      introspectionEndpoint: `${endpoint.url}/introspect`,
      clientId: 'orders-api',
      clientAuthentication: { method: 'client_secret_basic', secret: 'orders-api-secret' },
    }),
  )

const refusal = (res: CallResult) => ({
  status: res.status,
  code: (JSON.parse(res.body) as { code?: string }).code,
  reason: (JSON.parse(res.body) as { reason?: string }).reason,
  challenge: res.headers['www-authenticate'],
})

describe.each(adapters)('%s: certificate-bound tokens over mutual TLS (RFC 8705 §3)', (adapter) => {
  let app: MtlsApp
  beforeAll(async () => {
    app = await mountMtls(adapter, { authenticator: authenticator(), tls: serverTls(svid) })
  })
  afterAll(() => app.close())

  const get = (client: Pki['checkout'], token: string) =>
    call(app.port, { client, ca: pki.ca.bundle, headers: { authorization: `Bearer ${token}` } })

  it('accepts a JWT over the certificate it is bound to', async () => {
    const token = await idp.sign({ cnf: { 'x5t#S256': pki.checkout.x5tS256 } })
    const res = await get(pki.checkout, token)
    expect(res.status).toBe(200)
    const { auth } = JSON.parse(res.body) as { auth: Auth }
    expect(auth).toMatchObject({ subject: 'alice', format: 'jwt', cnf: { 'x5t#S256': pki.checkout.x5tS256 } })
  })

  it('refuses a JWT presented over another certificate: 401 invalid_token', async () => {
    const token = await idp.sign({ cnf: { 'x5t#S256': pki.checkout.x5tS256 } })
    expect(refusal(await get(pki.orders, token))).toEqual({
      status: 401,
      code: 'invalid_token',
      reason: 'certificate_mismatch',
      challenge: expect.stringMatching(/^Bearer .*error="invalid_token"/),
    })
  })

  it('accepts an introspected token over the certificate it is bound to', async () => {
    const token = opaqueToken(pki.checkout.x5tS256)
    const res = await get(pki.checkout, token)
    expect(res.status).toBe(200)
    expect((JSON.parse(res.body) as { auth: Auth }).auth).toMatchObject({ format: 'opaque' })
  })

  it('refuses an introspected token presented over another certificate: 401 invalid_token', async () => {
    const token = opaqueToken(pki.checkout.x5tS256)
    expect(refusal(await get(pki.orders, token))).toMatchObject({
      status: 401,
      code: 'invalid_token',
      reason: 'certificate_mismatch',
    })
  })
})
