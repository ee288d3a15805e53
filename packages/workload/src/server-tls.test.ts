import { X509Certificate } from 'node:crypto'
import http2 from 'node:http2'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { ZeroTrustError } from '@zerotrust/core'
import { createTestCa, issueSvid, type TestCa, type TestSvid } from '@zerotrust/testkit/ca'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Svid } from './lib/svid-check.js'
import { serverTls } from './server-tls.js'
import type { SvidSource } from './svid-files.js'

const td = 'prod.example.com'
const id = (path: string) => `spiffe://${td}/${path}`

let ca: TestCa
let server1: TestSvid
let server2: TestSvid
let client: TestSvid

beforeAll(async () => {
  ca = await createTestCa({ trustDomain: td })
  const names = { ips: ['127.0.0.1'], dns: ['localhost'] }
  server1 = await issueSvid(ca, { spiffeId: id('api'), ...names })
  server2 = await issueSvid(ca, { spiffeId: id('api'), ...names })
  client = await issueSvid(ca, { spiffeId: id('checkout') })
})

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

function svidOf(test: TestSvid, bundle = test.bundle): Svid {
  return {
    certificate: test.chain,
    key: test.key,
    bundle,
    spiffeId: test.spiffeId as string,
    trustDomain: td,
    notBefore: test.notBefore,
    notAfter: test.notAfter,
  }
}

/** An SVID source a test rotates by hand: the interface `serverTls` takes, without files. */
function manualSource(first: Svid): SvidSource & { rotate(next: Svid): void } {
  let current = first
  const listeners = new Set<(svid: Svid) => void>()
  return {
    current: () => current,
    onRotate(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close: () => listeners.clear(),
    rotate(next) {
      current = next
      for (const listener of listeners) listener(next)
    },
  }
}

interface Seen {
  readonly status: number
  readonly body: string
  /** The DER of the certificate the server presented. */
  readonly serverCertificate: Buffer
  readonly socket: TLSSocket
}

async function listen(server: https.Server | http2.Http2SecureServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        if ('closeAllConnections' in server) server.closeAllConnections()
      }),
  )
  return (server.address() as AddressInfo).port
}

function get(port: number, options: https.RequestOptions = {}): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      { host: '127.0.0.1', port, path: '/', ca: ca.bundle, cert: client.chain, key: client.key, ...options },
      (response) => {
        // Read the socket now: an agent takes it back once the response ends.
        const socket = response.socket as TLSSocket
        const serverCertificate = socket.getPeerCertificate().raw
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => {
          body += chunk
        })
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, body, serverCertificate, socket })
        })
      },
    )
    request.on('error', reject)
    request.end()
  })
}

/** A handler that answers what the TLS layer saw of the client. */
function whoIsCalling(req: { socket: unknown }, res: { end(body: string): void }): void {
  const socket = req.socket as TLSSocket
  res.end(`${socket.authorized} ${socket.getPeerCertificate().subjectaltname ?? '-'}`)
}

describe('serverTls', () => {
  it('makes an https server ask for and verify the client certificate', async () => {
    const tls = serverTls(manualSource(svidOf(server1)))
    expect({ requestCert: tls.requestCert, rejectUnauthorized: tls.rejectUnauthorized }).toEqual({
      requestCert: true,
      rejectUnauthorized: true,
    })
    const port = await listen(tls.attach(https.createServer(tls, whoIsCalling)))
    const seen = await get(port)
    expect({ status: seen.status, body: seen.body }).toEqual({
      status: 200,
      body: `true URI:${id('checkout')}`,
    })
    expect(seen.serverCertificate.equals(server1.der)).toBe(true)
    // Without a client certificate, or with one of a CA outside the bundle, the handshake fails.
    await expect(get(port, { cert: undefined, key: undefined })).rejects.toThrow()
    const rogue = await issueSvid(await createTestCa({ trustDomain: td }), { spiffeId: id('checkout') })
    await expect(get(port, { cert: rogue.chain, key: rogue.key })).rejects.toThrow()
  })

  it('lets unverified clients reach the application, marked unauthorized, with rejectUnauthorized false', async () => {
    const tls = serverTls(manualSource(svidOf(server1)), { rejectUnauthorized: false })
    const port = await listen(tls.attach(https.createServer(tls, whoIsCalling)))
    const rogue = await issueSvid(await createTestCa({ trustDomain: td }), { spiffeId: id('checkout') })
    expect((await get(port, { cert: rogue.chain, key: rogue.key })).body).toBe(`false URI:${id('checkout')}`)
    expect((await get(port, { cert: undefined, key: undefined })).body).toBe('false -')
  })

  it('gives new handshakes the rotated certificate while an open connection keeps working', async () => {
    const source = manualSource(svidOf(server1))
    const tls = serverTls(source)
    const port = await listen(tls.attach(https.createServer({ ...tls, keepAlive: true }, whoIsCalling)))
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
    cleanup.push(() => agent.destroy())
    const first = await get(port, { agent })
    expect(first.serverCertificate.equals(server1.der)).toBe(true)
    source.rotate(svidOf(server2))
    // The open connection goes on, with the certificate it was made with.
    const again = await get(port, { agent })
    expect(again.socket).toBe(first.socket)
    expect(again.status).toBe(200)
    expect(again.serverCertificate.equals(server1.der)).toBe(true)
    // A new connection gets the new one.
    const fresh = await get(port, { agent: false })
    expect(fresh.serverCertificate.equals(server2.der)).toBe(true)
  })

  it('takes a new bundle: a client of a new CA is accepted once the bundle holds it', async () => {
    const source = manualSource(svidOf(server1))
    const tls = serverTls(source)
    const port = await listen(tls.attach(https.createServer(tls, whoIsCalling)))
    const newCa = await createTestCa({ trustDomain: td })
    const newClient = await issueSvid(newCa, { spiffeId: id('checkout') })
    await expect(get(port, { cert: newClient.chain, key: newClient.key, agent: false })).rejects.toThrow()
    source.rotate(svidOf(server1, ca.bundle + newCa.bundle))
    const seen = await get(port, { cert: newClient.chain, key: newClient.key, agent: false })
    expect(seen.body).toBe(`true URI:${id('checkout')}`)
  })

  it('serves HTTP/2 from the spread options, and rotates it', async () => {
    const source = manualSource(svidOf(server1))
    const tls = serverTls(source)
    const server = tls.attach(
      http2.createSecureServer({ ...tls, allowHTTP1: true }, (req, res) => {
        const socket = req.socket as TLSSocket
        res.end(`${socket.authorized} ${socket.getPeerCertificate().subjectaltname}`)
      }),
    )
    const port = await listen(server)
    const h2get = () =>
      new Promise<{ body: string; der: Buffer }>((resolve, reject) => {
        const session = http2.connect(`https://127.0.0.1:${port}`, {
          ca: ca.bundle,
          cert: client.chain,
          key: client.key,
        })
        session.on('error', reject)
        const stream = session.request({ ':path': '/' })
        let body = ''
        stream.setEncoding('utf8')
        stream.on('data', (chunk: string) => {
          body += chunk
        })
        stream.on('end', () => {
          const der = (session.socket as TLSSocket).getPeerCertificate().raw
          session.close()
          resolve({ body, der })
        })
        stream.on('error', reject)
      })
    const first = await h2get()
    expect(first.body).toBe(`true URI:${id('checkout')}`)
    expect(first.der.equals(server1.der)).toBe(true)
    source.rotate(svidOf(server2))
    expect((await h2get()).der.equals(server2.der)).toBe(true)
  })

  it('reads the options when the server is made, and attach() catches up with a rotation before it', async () => {
    const source = manualSource(svidOf(server1))
    const errors: Error[] = []
    const tls = serverTls(source, { onError: (e) => errors.push(e) })
    expect(new X509Certificate(tls.cert).raw.equals(server1.der)).toBe(true)
    const server = https.createServer(tls, whoIsCalling)
    source.rotate(svidOf(server2))
    const port = await listen(tls.attach(server))
    expect((await get(port)).serverCertificate.equals(server2.der)).toBe(true)
    expect(errors.map((e) => (e as ZeroTrustError).reason)).toEqual(['server_not_attached'])
    // attach() and close() are not options: a spread carries the TLS settings only.
    expect(Object.keys({ ...tls }).sort()).toEqual([
      'ca',
      'cert',
      'key',
      'minVersion',
      'rejectUnauthorized',
      'requestCert',
    ])
  })

  it('reports a rotation while no server is attached, and one a server refuses', async () => {
    const errors: Error[] = []
    const source = manualSource(svidOf(server1))
    const tls = serverTls(source, { onError: (e) => errors.push(e) })
    source.rotate(svidOf(server2))
    expect(errors.map((e) => (e as ZeroTrustError).reason)).toEqual(['server_not_attached'])
    const server = tls.attach(https.createServer(tls, whoIsCalling))
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    source.rotate({ ...svidOf(server2), key: 'not a key' })
    expect(errors.map((e) => (e as ZeroTrustError).reason)).toEqual([
      'server_not_attached',
      'secure_context_failed',
    ])
  })

  it('stops following the SVID on close, and lets a closed server go', async () => {
    const errors: Error[] = []
    const source = manualSource(svidOf(server1))
    const tls = serverTls(source, { onError: (e) => errors.push(e) })
    const server = tls.attach(https.createServer(tls, whoIsCalling))
    const port = await listen(server)
    tls.close()
    source.rotate(svidOf(server2))
    expect((await get(port, { agent: false })).serverCertificate.equals(server1.der)).toBe(true)
    expect(errors).toEqual([])
  })

  it('keeps further secure context options through rotations', async () => {
    const source = manualSource(svidOf(server1))
    const tls = serverTls(source, { minVersion: 'TLSv1.3', context: { ciphers: 'TLS_AES_256_GCM_SHA384' } })
    const port = await listen(tls.attach(https.createServer(tls, whoIsCalling)))
    source.rotate(svidOf(server2))
    const seen = await get(port, { agent: false })
    expect(seen.socket.getProtocol()).toBe('TLSv1.3')
    expect(seen.socket.getCipher().name).toBe('TLS_AES_256_GCM_SHA384')
    await expect(get(port, { agent: false, maxVersion: 'TLSv1.2' })).rejects.toThrow()
  })

  it('refuses option mistakes at construction, naming the option', () => {
    const source = manualSource(svidOf(server1))
    expect(() => serverTls(source, { minVersion: 'TLSv1' as never })).toThrow(
      'serverTls: "minVersion" option must be "TLSv1.2" or "TLSv1.3"',
    )
    expect(() => serverTls(source, { context: { cert: 'x' } as never })).toThrow(
      /^serverTls: "context" option must not hold/,
    )
    expect(() => serverTls(source, { requestCert: false } as never)).toThrow(
      'serverTls: "requestCert" option is not recognized',
    )
    expect(() => serverTls({} as never)).toThrow(/^serverTls: the SVID source must have/)
  })
})
