import { createServer, request } from 'node:https'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { type Authenticator, type PeerCertificate, ZeroTrustError } from '@zerotrust/core'
import { createTestCa, issueSvid, type TestSvid } from '@zerotrust/testkit/ca'
import { Hono } from 'hono'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { authenticate } from './index.js'

// Direct mTLS on @hono/node-server: the request view reads the Node request's TLS socket, so a layer
// sees the client certificate the handshake verified, whether it verified, and the peer's address
// (issue 15).
const td = 'prod.example.com'
let trusted: TestSvid
let rogue: TestSvid
let bundle: string
const seen: { certificate: PeerCertificate | undefined; remoteAddress: string | undefined }[] = []
const probe: Authenticator = {
  layer: 'probe',
  authenticate: async (req) => {
    seen.push({ certificate: req.peerCertificate?.(), remoteAddress: req.remoteAddress })
    throw new ZeroTrustError('missing_credentials', 'no credentials')
  },
}
let port: number
let close: () => Promise<void>

beforeAll(async () => {
  const ca = await createTestCa({ trustDomain: td })
  bundle = ca.bundle
  const server = await issueSvid(ca, { spiffeId: `spiffe://${td}/api`, ips: ['127.0.0.1'] })
  trusted = await issueSvid(ca, { spiffeId: `spiffe://${td}/checkout` })
  rogue = await issueSvid(await createTestCa({ trustDomain: td }), { spiffeId: `spiffe://${td}/checkout` })
  const app = new Hono()
  app.use(authenticate(probe))
  app.get('/*', (c) => c.text('unreachable'))
  // rejectUnauthorized false, so an unverified certificate reaches the layer, marked as such.
  const started = serve({
    fetch: app.fetch,
    port: 0,
    hostname: '127.0.0.1',
    createServer,
    serverOptions: {
      cert: server.chain,
      key: server.key,
      ca: ca.bundle,
      requestCert: true,
      rejectUnauthorized: false,
    },
  })
  await new Promise<void>((resolve) => started.once('listening', resolve))
  port = (started.address() as AddressInfo).port
  close = () =>
    new Promise<void>((resolve) => {
      started.close(() => resolve())
      ;(started as unknown as { closeAllConnections(): void }).closeAllConnections()
    })
})
afterAll(() => close())
beforeEach(() => {
  seen.length = 0
})

function send(client: TestSvid | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/orders',
        ca: bundle,
        cert: client?.chain,
        key: client?.key,
        agent: false,
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

describe('@zerotrust/hono on @hono/node-server over mutual TLS', () => {
  it('hands the layer the verified client certificate and the peer address', async () => {
    expect(await send(trusted)).toBe(401)
    expect(seen).toEqual([
      {
        certificate: {
          raw: expect.any(Buffer),
          subjectAltName: `URI:spiffe://${td}/checkout`,
          authorized: true,
        },
        remoteAddress: '127.0.0.1',
      },
    ])
    expect(Buffer.from(seen[0]?.certificate?.raw ?? []).equals(trusted.der)).toBe(true)
  })

  it('marks a certificate the handshake did not verify as not authorized', async () => {
    expect(await send(rogue)).toBe(401)
    expect(seen[0]?.certificate).toMatchObject({ authorized: false })
    expect(Buffer.from(seen[0]?.certificate?.raw ?? []).equals(rogue.der)).toBe(true)
  })

  it('has no certificate for a client that sent none', async () => {
    expect(await send(undefined)).toBe(401)
    expect(seen).toEqual([{ certificate: undefined, remoteAddress: '127.0.0.1' }])
  })
})
