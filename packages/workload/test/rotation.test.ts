import { Agent } from 'node:https'
import type { Auth, Authenticator } from '@zerotrust/core'
import { ZeroTrustError } from '@zerotrust/core'
import { createTestCa, issueSvid, type TestSvid } from '@zerotrust/testkit/ca'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Svid } from '../src/lib/svid-check.js'
import { serverTls } from '../src/server-tls.js'
import { svidFiles } from '../src/svid-files.js'
import {
  adapters,
  call,
  createPki,
  idOf,
  mountMtls,
  type Pki,
  svidDirectory,
  trustDomain,
} from './fixtures.js'

// The server's SVID rotates, then its trust bundle gains a new CA, then its SVID comes from that CA,
// while clients keep calling over new and kept-alive connections: not one request fails, and each new
// certificate is seen by new handshakes (issue 15). Bounded by a request count and a deadline; the
// steps wait for what they need, never for a fixed time.
const maxRequests = 3000
const deadlineMs = 60_000

/** Accepts a request whose client certificate the handshake verified; the layer under test is TLS. */
const verifiedPeer: Authenticator = {
  layer: 'verified-peer',
  authenticate: async (req): Promise<Auth> => {
    const certificate = req.peerCertificate?.()
    if (certificate?.authorized !== true) {
      throw new ZeroTrustError('unauthenticated_workload', 'no verified client certificate')
    }
    return {
      subject: certificate.subjectAltName,
      issuer: undefined,
      audience: [],
      clientId: undefined,
      scopes: [],
      claims: {},
      scheme: 'mtls',
      format: 'x509',
      expiresAt: undefined,
      cnf: undefined,
    }
  },
}

let pki: Pki

beforeAll(async () => {
  pki = await createPki()
})

describe.each(adapters)('%s: rotating the server SVID and the bundle under load', (adapter) => {
  const cleanup: (() => unknown)[] = []
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step()
  })

  it('fails no request while the certificate, the bundle and the CA change', async () => {
    const newCa = await createTestCa({ trustDomain })
    const serverNames = { ips: ['127.0.0.1'], dns: ['localhost'] }
    const renewed = await issueSvid(pki.ca, { spiffeId: idOf('api'), ...serverNames })
    const fromNewCa = await issueSvid(newCa, { spiffeId: idOf('api'), ...serverNames })
    const newClient = await issueSvid(newCa, { spiffeId: idOf('checkout') })

    const directory = svidDirectory(pki.server, pki.ca.bundle)
    cleanup.push(directory.remove)
    const errors: Error[] = []
    const svid = svidFiles({ dir: directory.dir, debounce: 20, onError: (e) => errors.push(e) })
    cleanup.push(() => svid.close())
    const rotations: Svid[] = []
    svid.onRotate((next) => rotations.push(next))
    const app = await mountMtls(adapter, { authenticator: verifiedPeer, tls: serverTls(svid) })
    cleanup.push(() => app.close())

    // Clients trust both CAs from the start: SPIRE hands out the new root before it signs with it.
    const clientTrust = pki.ca.bundle + newCa.bundle
    let client: TestSvid = pki.checkout
    const agent = new Agent({ keepAlive: true, maxSockets: 2 })
    cleanup.push(() => agent.destroy())
    const seen = new Set<string>()
    const failures: unknown[] = []
    let sent = 0
    let stop = false
    const started = Date.now()
    const worker = async (keepAlive: boolean) => {
      while (!stop && sent < maxRequests && Date.now() - started < deadlineMs) {
        sent++
        try {
          const res = await call(app.port, {
            client,
            ca: clientTrust,
            ...(keepAlive ? { agent } : {}),
          })
          if (res.status !== 200) failures.push(res.status)
          seen.add(res.serverCertificate.toString('base64url'))
        } catch (error) {
          failures.push(error)
        }
      }
    }
    const workers = [worker(true), worker(true), worker(false), worker(false)]
    const until = async (check: () => boolean) => {
      while (!check()) {
        if (sent >= maxRequests || Date.now() - started > deadlineMs)
          throw new Error('out of requests or time')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    const seenDer = (svid: TestSvid) => seen.has(svid.der.toString('base64url'))

    try {
      await until(() => seenDer(pki.server) && sent > 20)
      // 1. A renewed SVID from the same CA, written file by file as spiffe-helper does.
      directory.write(renewed, pki.ca.bundle)
      await until(() => rotations.length >= 1)
      await until(() => seenDer(renewed))
      // 2. The bundle gains the new CA; a client with a certificate from it is then accepted.
      directory.write(renewed, pki.ca.bundle + newCa.bundle)
      await until(() => rotations.length >= 2)
      const beforeSwitch = sent
      client = newClient
      await until(() => sent > beforeSwitch + 20)
      // 3. The server's own SVID now comes from the new CA.
      directory.write(fromNewCa, pki.ca.bundle + newCa.bundle)
      await until(() => rotations.length >= 3)
      await until(() => seenDer(fromNewCa))
      const afterLast = sent
      await until(() => sent > afterLast + 20)
    } finally {
      stop = true
      await Promise.all(workers)
    }
    expect(failures).toEqual([])
    expect(errors).toEqual([])
    expect(seenDer(pki.server) && seenDer(renewed) && seenDer(fromNewCa)).toBe(true)
    expect(rotations.map((r) => r.spiffeId)).toEqual([idOf('api'), idOf('api'), idOf('api')])
  })
})
