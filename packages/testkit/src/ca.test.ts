import { X509Certificate } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import tls from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { createTestCa, issueSvid, type TestSvid } from './ca.js'

const td = 'prod.example.com'
const servers: tls.Server[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
})

interface Handshake {
  readonly ok: boolean
  readonly code?: string | undefined
  /** What the server saw: whether the client's chain verified, and the client certificate's SANs. */
  readonly server?: { readonly authorized: boolean; readonly subjectaltname: string | undefined } | undefined
}

/** A real TLS handshake on 127.0.0.1: a server presenting `server`, a client presenting `client`. */
async function handshake(
  server: { cert: string; key: string; ca: string; rejectUnauthorized?: boolean },
  client: { cert?: string; key?: string; ca: string; servername?: string },
): Promise<Handshake> {
  let seen: Handshake['server']
  const listener = tls.createServer(
    { ...server, requestCert: true, rejectUnauthorized: server.rejectUnauthorized ?? true },
    (socket) => {
      seen = {
        authorized: socket.authorized,
        subjectaltname: socket.getPeerCertificate().subjectaltname,
      }
      socket.end('hello')
    },
  )
  servers.push(listener)
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const { port } = listener.address() as AddressInfo
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...client }, () => {
      let body = ''
      socket.on('data', (chunk: Buffer) => {
        body += chunk.toString()
      })
      socket.on('end', () => resolve({ ok: body === 'hello', server: seen }))
    })
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, code: error.code }))
  })
}

const serverOf = (svid: TestSvid) => ({ cert: svid.chain, key: svid.key, ca: svid.bundle })
const clientOf = (svid: TestSvid) => ({ cert: svid.chain, key: svid.key, ca: svid.bundle })

describe('createTestCa and issueSvid', () => {
  it('issue an X.509-SVID: the SPIFFE ID as the URI SAN, not a CA, signed by the CA', async () => {
    const ca = await createTestCa({ trustDomain: td })
    const svid = await issueSvid(ca, { spiffeId: `spiffe://${td}/checkout` })
    const leaf = new X509Certificate(svid.certificate)
    expect(leaf.subjectAltName).toBe(`URI:spiffe://${td}/checkout`)
    expect(leaf.ca).toBe(false)
    // node:crypto's keyUsage is the extended key usage: serverAuth and clientAuth.
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])
    const root = new X509Certificate(ca.certificate)
    expect(root.ca).toBe(true)
    expect(root.subjectAltName).toBe(`URI:spiffe://${td}`)
    expect(leaf.checkIssued(root)).toBe(true)
    expect(leaf.verify(root.publicKey)).toBe(true)
    expect(leaf.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(svid.key)))).toBe(
      true,
    )
    expect(svid.der.equals(leaf.raw)).toBe(true)
    expect(svid.x5tS256).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('write the key usages the X.509-SVID leaf needs: digitalSignature, critical basic constraints', async () => {
    const ca = await createTestCa({ trustDomain: td })
    const svid = await issueSvid(ca, { spiffeId: `spiffe://${td}/a` })
    // node:crypto exposes no key-usage bits; the PEM's text form through @peculiar/x509 does.
    const x509 = await import('@peculiar/x509')
    const leaf = new x509.X509Certificate(svid.certificate)
    const usage = leaf.getExtension(x509.KeyUsagesExtension)
    expect(usage?.usages).toBe(x509.KeyUsageFlags.digitalSignature)
    expect(usage?.critical).toBe(true)
    const basic = leaf.getExtension(x509.BasicConstraintsExtension)
    expect(basic?.ca).toBe(false)
    expect(basic?.critical).toBe(true)
  })

  it('make certificates a real mutual TLS handshake on 127.0.0.1 accepts', async () => {
    const ca = await createTestCa({ trustDomain: td })
    const server = await issueSvid(ca, {
      spiffeId: `spiffe://${td}/api`,
      ips: ['127.0.0.1'],
      dns: ['localhost'],
    })
    const client = await issueSvid(ca, { spiffeId: `spiffe://${td}/checkout` })
    const result = await handshake(serverOf(server), clientOf(client))
    expect(result).toEqual({
      ok: true,
      server: { authorized: true, subjectaltname: `URI:spiffe://${td}/checkout` },
    })
    // The DNS SAN serves a client that checks the name localhost.
    expect(await handshake(serverOf(server), { ...clientOf(client), servername: 'localhost' })).toMatchObject(
      {
        ok: true,
      },
    )
  })

  it('make a chain through an intermediate CA that verifies to the root bundle', async () => {
    const root = await createTestCa({ trustDomain: td })
    const intermediate = await createTestCa({ trustDomain: td, parent: root })
    expect(intermediate.bundle).toBe(root.certificate)
    const server = await issueSvid(intermediate, { spiffeId: `spiffe://${td}/api`, ips: ['127.0.0.1'] })
    const client = await issueSvid(intermediate, { spiffeId: `spiffe://${td}/checkout`, keyAlg: 'ES384' })
    expect(server.chain).toBe(server.certificate + intermediate.certificate)
    expect(await handshake(serverOf(server), clientOf(client))).toMatchObject({
      ok: true,
      server: { authorized: true },
    })
  })

  it('make RSA keys as well as EC ones', async () => {
    const ca = await createTestCa({ trustDomain: td, keyAlg: 'RS256' })
    const server = await issueSvid(ca, {
      spiffeId: `spiffe://${td}/api`,
      ips: ['127.0.0.1'],
      keyAlg: 'RS256',
    })
    const client = await issueSvid(ca, { spiffeId: `spiffe://${td}/checkout` })
    expect(await handshake(serverOf(server), clientOf(client))).toMatchObject({ ok: true })
  })

  it('make the broken variants the workload tests need, each refused by a verifying TLS peer', async () => {
    const ca = await createTestCa({ trustDomain: td })
    const unknown = await createTestCa({ trustDomain: td })
    const server = await issueSvid(ca, { spiffeId: `spiffe://${td}/api`, ips: ['127.0.0.1'] })
    const expired = await issueSvid(ca, {
      spiffeId: `spiffe://${td}/old`,
      notBefore: new Date(Date.now() - 48 * 3600_000),
      notAfter: new Date(Date.now() - 24 * 3600_000),
    })
    const rogue = await issueSvid(unknown, { spiffeId: `spiffe://${td}/checkout` })
    expect(await handshake(serverOf(server), clientOf(expired))).toMatchObject({ ok: false })
    expect(await handshake(serverOf(server), clientOf(rogue))).toMatchObject({ ok: false })
    // A server that lets unverified clients through sees why: authorized false.
    const lenient = { ...serverOf(server), rejectUnauthorized: false }
    expect(await handshake(lenient, clientOf(expired))).toMatchObject({
      ok: true,
      server: { authorized: false },
    })
    // A client refuses a server certificate from a CA it does not trust.
    const rogueServer = await issueSvid(unknown, { spiffeId: `spiffe://${td}/api`, ips: ['127.0.0.1'] })
    const client = await issueSvid(ca, { spiffeId: `spiffe://${td}/checkout` })
    // (OpenSSL completes the rogue server's chain from its own ca store, so the client sees the rogue root.)
    expect(await handshake(serverOf(rogueServer), clientOf(client))).toMatchObject({
      ok: false,
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    })
  })

  it('write two URI SANs, a DNS SAN only, or another trust domain when asked', async () => {
    const ca = await createTestCa({ trustDomain: td })
    const other = await createTestCa({ trustDomain: 'staging.example.com' })
    const two = await issueSvid(ca, { spiffeId: `spiffe://${td}/a`, uris: [`spiffe://${td}/b`] })
    expect(new X509Certificate(two.certificate).subjectAltName).toBe(
      `URI:spiffe://${td}/a, URI:spiffe://${td}/b`,
    )
    const dnsOnly = await issueSvid(ca, { dns: ['checkout.internal'] })
    expect(dnsOnly.spiffeId).toBeUndefined()
    expect(new X509Certificate(dnsOnly.certificate).subjectAltName).toBe('DNS:checkout.internal')
    const foreign = await issueSvid(other, { spiffeId: 'spiffe://staging.example.com/checkout' })
    expect(new X509Certificate(foreign.bundle).subjectAltName).toBe('URI:spiffe://staging.example.com')
    const server = await issueSvid(ca, { spiffeId: `spiffe://${td}/api`, ips: ['127.0.0.1'] })
    // Each is accepted by a server that trusts its CA: the TLS layer checks the chain, not the names.
    for (const [client, bundle] of [
      [two, ca.bundle],
      [dnsOnly, ca.bundle],
      [foreign, ca.bundle + other.bundle],
    ] as const) {
      const result = await handshake(
        { ...serverOf(server), ca: bundle },
        { ...clientOf(client), ca: ca.bundle },
      )
      expect(result).toMatchObject({ ok: true, server: { authorized: true } })
    }
  })
})
