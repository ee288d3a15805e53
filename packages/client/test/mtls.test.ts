// The client over real mutual TLS on 127.0.0.1 with the testkit's CA: the SVID presented, the server's
// SPIFFE ID checked in the handshake (a wrong workload behind the right address gets no byte), and the
// client SVID rotated mid-traffic without a failed request, by hand and through svidFiles.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { Server } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls'
import { createTestCa, issueSvid, type TestCa, type TestSvid } from '@zerotrust/testkit/ca'
import { svidFiles } from '@zerotrust/workload'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type ClientEvent, isOutboundError, zeroTrustClient } from '../src/index.js'
import { close, handSource, listen, mtlsServer, peerOf, svidOf } from './fixtures.js'

const td = 'prod.example.com'
const id = (path: string) => `spiffe://${td}/${path}`
const billingId = id('ns/billing/sa/billing-api')

let ca: TestCa
let foreignCa: TestCa
let billing: TestSvid
let checkout: TestSvid
const servers: Server[] = []
const cleanups: (() => Promise<void> | void)[] = []

beforeAll(async () => {
  ca = await createTestCa({ trustDomain: td })
  foreignCa = await createTestCa({ trustDomain: td, commonName: 'unknown CA' })
  billing = await issueSvid(ca, { spiffeId: billingId, ips: ['127.0.0.1'], dns: ['localhost'] })
  checkout = await issueSvid(ca, { spiffeId: id('ns/shop/sa/checkout') })
})
afterEach(async () => {
  await Promise.all(servers.splice(0).map(close))
  for (const cleanup of cleanups.splice(0)) await cleanup()
})
afterAll(() => {})

/** The billing service: answers with the caller's SPIFFE ID and certificate fingerprint. */
async function startBilling(
  svid = billing,
  onRequest?: () => Promise<void>,
): Promise<{ origin: string; hits: () => number }> {
  let hits = 0
  const server = mtlsServer(svid, async (req, res) => {
    hits++
    await onRequest?.()
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(peerOf(req.socket as TLSSocket)))
  })
  servers.push(server)
  return { origin: await listen(server), hits: () => hits }
}

describe('zeroTrustClient over mutual TLS (issue 16)', () => {
  it('presents its SVID and accepts the server by its SPIFFE ID, not its hostname', async () => {
    const { origin } = await startBilling()
    const events: ClientEvent[] = []
    const client = zeroTrustClient({
      baseUrl: origin,
      tls: svidOf(checkout),
      expectPeer: billingId,
      onEvent: (e) => events.push(e),
    })
    const res = await client.fetch('/v1/charges')
    expect(await res.json()).toEqual({ id: checkout.spiffeId, fingerprint: expect.any(String) })
    expect(events[0]).toMatchObject({ outcome: 'allow', workload: checkout.spiffeId, peer: billingId })
    await client.close()
  })

  it('refuses a server presenting another SPIFFE ID before sending a byte, and does not retry', async () => {
    const impostor = await issueSvid(ca, { spiffeId: id('ns/shop/sa/impostor'), ips: ['127.0.0.1'] })
    // A bare TLS server that counts the bytes it receives after the handshake.
    let received = 0
    let handshakes = 0
    const server: TlsServer = createTlsServer(
      {
        cert: impostor.chain,
        key: impostor.key,
        ca: impostor.bundle,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket) => {
        handshakes++
        socket.on('data', (chunk) => {
          received += chunk.byteLength
        })
        socket.on('error', () => {})
      },
    )
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const { port } = server.address() as { port: number }
    const events: ClientEvent[] = []
    const client = zeroTrustClient({
      baseUrl: `https://127.0.0.1:${port}`,
      tls: svidOf(checkout),
      expectPeer: billingId,
      retry: { attempts: 3, baseDelay: 1, maxDelay: 2 },
      onEvent: (e) => events.push(e),
    })
    const error = await client.fetch('/v1/charges', { method: 'POST', body: '{}' }).catch((e: unknown) => e)
    expect(isOutboundError(error) && [error.code, error.status, error.reason, error.attempts]).toEqual([
      'dependency_unavailable',
      503,
      'peer_mismatch',
      1,
    ])
    expect(received).toBe(0)
    expect(handshakes).toBeLessThanOrEqual(1)
    expect(events.map((e) => [e.outcome, e.reason])).toEqual([['error', 'peer_mismatch']])
    await client.close()
  })

  it('refuses a server whose certificate has two URI SANs or chains to another CA', async () => {
    const twoIds = await issueSvid(ca, { spiffeId: billingId, uris: [id('other')], ips: ['127.0.0.1'] })
    const foreign = await issueSvid(foreignCa, { spiffeId: billingId, ips: ['127.0.0.1'] })
    for (const svid of [twoIds, foreign]) {
      const server = mtlsServer({ ...svid, bundle: ca.bundle }, (_req, res) => res.end('no'))
      servers.push(server)
      const origin = await listen(server)
      const client = zeroTrustClient({ baseUrl: origin, tls: svidOf(checkout), expectPeer: billingId })
      const error = await client.fetch('/').catch((e: unknown) => e)
      expect(isOutboundError(error) && [error.code, error.reason, error.attempts]).toEqual([
        'dependency_unavailable',
        'peer_unverified',
        1,
      ])
      await client.close()
    }
  })

  it('rotates its SVID mid-traffic without a failed request: new connections present the new one', async () => {
    let release: (() => void) | undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let holdNext = true
    const { origin } = await startBilling(billing, async () => {
      if (holdNext) {
        holdNext = false
        await held
      }
    })
    const source = handSource(checkout)
    const client = zeroTrustClient({ baseUrl: origin, tls: source, expectPeer: billingId, connections: 4 })
    // A request in flight on the first SVID's connection, held by the server until after the rotations.
    const slow = client.fetch('/slow')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const next = [
      await issueSvid(ca, { spiffeId: checkout.spiffeId as string }),
      await issueSvid(ca, { spiffeId: checkout.spiffeId as string }),
      await issueSvid(ca, { spiffeId: checkout.spiffeId as string }),
    ]
    const seen = new Set<string>()
    let failed = 0
    let done = 0
    // A bounded loop: 4 workers, 150 calls, a rotation every 40 calls.
    const worker = async () => {
      while (done < 150) {
        done++
        if (done % 40 === 0) source.rotate(next[done / 40 - 1] as TestSvid)
        try {
          const body = (await (await client.fetch('/v1/charges')).json()) as { fingerprint: string }
          seen.add(body.fingerprint)
        } catch {
          failed++
        }
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    release?.()
    const first = (await (await slow).json()) as { fingerprint: string }
    expect(failed).toBe(0)
    // Each SVID's certificate was presented; the held request finished on the first one.
    expect(seen.size).toBe(4)
    expect(first.fingerprint).not.toBe([...seen].at(-1))
    const last = (await (await client.fetch('/')).json()) as { fingerprint: string }
    expect(last.fingerprint).toBe([...seen].at(-1))
    await client.close()
    expect(source.listeners()).toBe(0)
  })

  it('follows svidFiles from @zerotrust/workload when spiffe-helper writes a new SVID', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zerotrust-client-svid-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const write = (svid: TestSvid) => {
      writeFileSync(join(dir, 'svid.pem'), svid.chain)
      writeFileSync(join(dir, 'svid_key.pem'), svid.key)
      writeFileSync(join(dir, 'svid_bundle.pem'), svid.bundle)
    }
    write(checkout)
    const files = svidFiles({ dir, debounce: 20, pollInterval: 100 })
    cleanups.push(() => files.close())
    const { origin } = await startBilling()
    const client = zeroTrustClient({ baseUrl: origin, tls: files, expectPeer: billingId })
    const before = (await (await client.fetch('/')).json()) as { fingerprint: string }
    const renewed = await issueSvid(ca, { spiffeId: checkout.spiffeId as string })
    const rotated = new Promise<void>((resolve) => {
      const stop = files.onRotate(() => {
        stop()
        resolve()
      })
    })
    write(renewed)
    await rotated
    const after = (await (await client.fetch('/')).json()) as { fingerprint: string }
    expect(after.fingerprint).not.toBe(before.fingerprint)
    await client.close()
  })
})
