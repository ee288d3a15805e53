// What the real-TLS tests of @zerotrust/workload share: a PKI of test CAs and SVIDs, an SVID directory
// as spiffe-helper writes it, the same app on each of the four adapters served over mutual TLS, and an
// https client that presents a client certificate.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type Agent, createServer as createHttpsServer, request, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import type { Authenticator, DecisionSink } from '@zerotrust/core'
import * as expressAdapter from '@zerotrust/express'
import { zeroTrust } from '@zerotrust/fastify'
import * as honoAdapter from '@zerotrust/hono'
import * as koaAdapter from '@zerotrust/koa'
import { createTestCa, issueSvid, type TestCa, type TestSvid } from '@zerotrust/testkit/ca'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'
import type { ServerTls } from '../src/server-tls.js'

export const trustDomain = 'prod.example.com'
export const otherTrustDomain = 'staging.example.com'
export const idOf = (path: string, domain = trustDomain) => `spiffe://${domain}/${path}`

/** The certificates of the tests (issue 15): one CA per trust domain, one nobody trusts, and clients. */
export interface Pki {
  readonly ca: TestCa
  readonly otherCa: TestCa
  readonly unknownCa: TestCa
  /** What servers trust: the CAs of both trust domains. */
  readonly bundle: string
  /** The server's SVID, valid for 127.0.0.1 and localhost. */
  readonly server: TestSvid
  readonly checkout: TestSvid
  readonly orders: TestSvid
  /** A workload of the other trust domain, which the servers' bundle holds. */
  readonly staging: TestSvid
  readonly twoUris: TestSvid
  readonly expired: TestSvid
  readonly dnsOnly: TestSvid
  /** A certificate of the checkout workload from a CA nobody trusts. */
  readonly rogue: TestSvid
}

export async function createPki(): Promise<Pki> {
  const ca = await createTestCa({ trustDomain })
  const otherCa = await createTestCa({ trustDomain: otherTrustDomain })
  const unknownCa = await createTestCa({ trustDomain })
  const day = 86_400_000
  return {
    ca,
    otherCa,
    unknownCa,
    bundle: ca.bundle + otherCa.bundle,
    server: await issueSvid(ca, { spiffeId: idOf('api'), ips: ['127.0.0.1'], dns: ['localhost'] }),
    checkout: await issueSvid(ca, { spiffeId: idOf('checkout') }),
    orders: await issueSvid(ca, { spiffeId: idOf('orders') }),
    staging: await issueSvid(otherCa, { spiffeId: idOf('checkout', otherTrustDomain) }),
    twoUris: await issueSvid(ca, { spiffeId: idOf('checkout'), uris: [idOf('admin')] }),
    expired: await issueSvid(ca, {
      spiffeId: idOf('checkout'),
      notBefore: new Date(Date.now() - 2 * day),
      notAfter: new Date(Date.now() - day),
    }),
    dnsOnly: await issueSvid(ca, { dns: ['checkout.internal'] }),
    rogue: await issueSvid(unknownCa, { spiffeId: idOf('checkout') }),
  }
}

/** A directory as spiffe-helper writes it; `write` replaces its files, in spiffe-helper's order. */
export function svidDirectory(svid: TestSvid, bundle: string) {
  const dir = mkdtempSync(join(tmpdir(), 'zerotrust-workload-'))
  const write = (next: TestSvid, nextBundle: string) => {
    writeFileSync(join(dir, 'svid.pem'), next.chain)
    writeFileSync(join(dir, 'svid_key.pem'), next.key)
    writeFileSync(join(dir, 'svid_bundle.pem'), nextBundle)
  }
  write(svid, bundle)
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export type AdapterName = 'express' | 'fastify' | 'koa' | 'hono'
export const adapters: readonly AdapterName[] = ['express', 'fastify', 'koa', 'hono']

export interface MountOptions {
  readonly authenticator: Authenticator
  readonly tls: ServerTls
  readonly onDecision?: DecisionSink
}

/** An app served over mutual TLS on 127.0.0.1 with an OS-chosen port. */
export interface MtlsApp {
  readonly port: number
  close(): Promise<void>
}

// Every app serves `GET /whoami`: authenticated with `authenticator` for the whole app, it answers the
// Auth the handler sees where that framework's users look for it.
const publicOrigin = 'https://api.example.com'

async function listening(server: Server): Promise<number> {
  if (!server.listening) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  }
  return (server.address() as AddressInfo).port
}

const closing = (server: Server) => () =>
  new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

export async function mountMtls(adapter: AdapterName, options: MountOptions): Promise<MtlsApp> {
  const { authenticator, tls, onDecision = () => {} } = options
  switch (adapter) {
    case 'express': {
      const app = express()
      app.use(expressAdapter.authenticate(authenticator, { onDecision, publicOrigin }))
      app.get('/whoami', (req, res) => {
        res.json({ auth: req.auth })
      })
      app.use(expressAdapter.errorHandler())
      const server = tls.attach(createHttpsServer(tls, app))
      return { port: await listening(server), close: closing(server) }
    }
    case 'fastify': {
      const app = Fastify({ https: { ...tls } })
      tls.attach(app.server as unknown as Server)
      await app.register(zeroTrust, { authenticator, onDecision, publicOrigin })
      app.get('/whoami', async (request) => ({ auth: request.auth }))
      await app.listen({ port: 0, host: '127.0.0.1' })
      return {
        port: (app.server.address() as AddressInfo).port,
        close: async () => {
          app.server.closeAllConnections()
          await app.close()
        },
      }
    }
    case 'koa': {
      const app = new Koa()
      app.silent = true
      app.use(koaAdapter.errorHandler())
      app.use(koaAdapter.authenticate(authenticator, { onDecision, publicOrigin }))
      app.use((ctx) => {
        if (ctx.path === '/whoami') ctx.body = { auth: ctx.state.auth }
      })
      const server = tls.attach(createHttpsServer(tls, app.callback()))
      return { port: await listening(server), close: closing(server) }
    }
    case 'hono': {
      const app = new Hono()
      app.onError(honoAdapter.errorHandler())
      app.use(honoAdapter.authenticate(authenticator, { onDecision, publicOrigin }))
      app.get('/whoami', (c) => c.json({ auth: c.get('auth') }))
      const server = serve({
        fetch: app.fetch,
        port: 0,
        hostname: '127.0.0.1',
        createServer: createHttpsServer,
        serverOptions: { ...tls },
      }) as unknown as Server
      tls.attach(server)
      await new Promise<void>((resolve) => {
        if (server.listening) resolve()
        else server.once('listening', resolve)
      })
      return { port: await listening(server), close: closing(server) }
    }
  }
}

export interface CallOptions {
  /** The client certificate to present; none when absent. */
  readonly client?: TestSvid | undefined
  /** The CAs the client trusts for the server's certificate. */
  readonly ca: string
  readonly path?: string
  readonly headers?: Readonly<Record<string, string>>
  /** A keep-alive agent to reuse connections; a fresh connection per call when absent. */
  readonly agent?: Agent
}

export interface CallResult {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: string
  /** The DER of the certificate the server presented. */
  readonly serverCertificate: Buffer
}

/** One https request to 127.0.0.1:`port`; rejects when the handshake or the connection fails. */
export function call(port: number, options: CallOptions): Promise<CallResult> {
  const { client, ca, path = '/whoami', headers = {}, agent } = options
  return new Promise((resolve, reject) => {
    const sent = request(
      {
        host: '127.0.0.1',
        port,
        path,
        ca,
        cert: client?.chain,
        key: client?.key,
        headers,
        agent: agent ?? false,
        timeout: 10_000,
      },
      (res) => {
        // The socket goes back to the agent once the response ends: read the certificate now.
        const serverCertificate = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            serverCertificate,
          }),
        )
      },
    )
    sent.on('timeout', () => sent.destroy(new Error('no answer within 10 s')))
    sent.on('error', reject)
    sent.end()
  })
}
