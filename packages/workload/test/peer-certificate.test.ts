import { createHash } from 'node:crypto'
import type { Auth, Authenticator } from '@zerotrust/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverTls } from '../src/server-tls.js'
import { type SvidSource, svidFiles } from '../src/svid-files.js'
import {
  adapters,
  call,
  createPki,
  idOf,
  type MtlsApp,
  mountMtls,
  type Pki,
  svidDirectory,
} from './fixtures.js'

// Every adapter hands layers the client certificate of the TLS connection as the handshake left it: its
// DER, its SAN string, whether the chain verified (`authorized`), and the peer's address (issue 15).
// A probe authenticator answers what it was handed.
const probe: Authenticator = {
  layer: 'probe',
  authenticate: async (req): Promise<Auth> => {
    const certificate = req.peerCertificate?.()
    return {
      subject: 'probe',
      issuer: undefined,
      audience: [],
      clientId: undefined,
      scopes: [],
      claims: {
        x5t:
          certificate === undefined ? null : createHash('sha256').update(certificate.raw).digest('base64url'),
        subjectAltName: certificate?.subjectAltName ?? null,
        authorized: certificate?.authorized ?? null,
        remoteAddress: req.remoteAddress ?? null,
      },
      scheme: 'mtls',
      format: 'x509',
      expiresAt: undefined,
      cnf: undefined,
    }
  },
}

let pki: Pki
let directory: ReturnType<typeof svidDirectory>
let svid: SvidSource

beforeAll(async () => {
  pki = await createPki()
  directory = svidDirectory(pki.server, pki.bundle)
  svid = svidFiles({ dir: directory.dir })
})
afterAll(() => {
  svid.close()
  directory.remove()
})

const claimsOf = (body: string) => (JSON.parse(body) as { auth: Auth }).auth.claims

describe.each(adapters)('%s over mutual TLS: the request view', (adapter) => {
  let strict: MtlsApp
  let lenient: MtlsApp
  beforeAll(async () => {
    strict = await mountMtls(adapter, { authenticator: probe, tls: serverTls(svid) })
    lenient = await mountMtls(adapter, {
      authenticator: probe,
      tls: serverTls(svid, { rejectUnauthorized: false }),
    })
  })
  afterAll(async () => {
    await strict.close()
    await lenient.close()
  })

  it('carries the verified client certificate and the peer address', async () => {
    const res = await call(strict.port, { client: pki.checkout, ca: pki.ca.bundle })
    expect(res.status).toBe(200)
    expect(claimsOf(res.body)).toEqual({
      x5t: pki.checkout.x5tS256,
      subjectAltName: `URI:${idOf('checkout')}`,
      authorized: true,
      remoteAddress: '127.0.0.1',
    })
  })

  it('refuses in the handshake a client without a certificate, or with one the bundle does not verify', async () => {
    await expect(call(strict.port, { ca: pki.ca.bundle })).rejects.toThrow()
    await expect(call(strict.port, { client: pki.rogue, ca: pki.ca.bundle })).rejects.toThrow()
    await expect(call(strict.port, { client: pki.expired, ca: pki.ca.bundle })).rejects.toThrow()
  })

  it('marks an unverified certificate authorized: false where the handshake lets it through', async () => {
    for (const client of [pki.rogue, pki.expired]) {
      const res = await call(lenient.port, { client, ca: pki.ca.bundle })
      expect(claimsOf(res.body)).toMatchObject({ x5t: client.x5tS256, authorized: false })
    }
    const none = await call(lenient.port, { ca: pki.ca.bundle })
    expect(claimsOf(none.body)).toEqual({
      x5t: null,
      subjectAltName: null,
      authorized: null,
      remoteAddress: '127.0.0.1',
    })
  })
})
