// tokenExchange authenticating to the token endpoint with its certificate (RFC 8705 §2.1
// `tls_client_auth`): oidc-provider over TLS, the edge's SVID from the testkit CA, a rotation of it.
import { type AuthorizationServer, signAccessToken, startAuthorizationServer } from '@zerotrust/testkit'
import { createTestCa, issueSvid, type TestCa, type TestSvid } from '@zerotrust/testkit/ca'
import { decodeJwt } from 'jose'
import { TlsClientAuth } from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClientCertificate, ClientCertificateSource } from '../src/lib/options.js'
import { tokenExchange } from '../src/token-exchange.js'

const trustDomain = 'prod.example.com'
const edgeId = `spiffe://${trustDomain}/ns/shop/sa/edge`

let ca: TestCa
let edge: TestSvid
let as: AuthorizationServer
const closers: (() => Promise<void>)[] = []

beforeAll(async () => {
  ca = await createTestCa({ trustDomain })
  const issuer = await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/idp`, ips: ['127.0.0.1'] })
  edge = await issueSvid(ca, { spiffeId: edgeId })
  as = await startAuthorizationServer({
    resources: [
      { indicator: 'api://edge', scope: 'orders:read orders:write' },
      { indicator: 'api://orders', scope: 'orders:read orders:write' },
    ],
    clients: [{ clientId: 'edge', authMethod: 'tls_client_auth', tlsClientAuthSanUri: edgeId }],
    tokenExchange: { clients: [{ clientId: 'edge', resources: ['api://orders'] }] },
    tls: { cert: issuer.chain, key: issuer.key, ca: ca.bundle },
  })
})

afterAll(async () => {
  for (const close of closers) await close()
  await as?.close()
})

const userToken = () =>
  signAccessToken(as.keys[0] as never, {
    iss: as.issuer,
    sub: 'alice',
    aud: 'api://edge',
    client_id: 'web',
    scope: 'orders:read orders:write',
  })

const certificateOf = (svid: TestSvid): ClientCertificate => ({ certificate: svid.chain, key: svid.key })

/** An SVID source the test rotates by hand. */
function handSource(first: TestSvid): ClientCertificateSource & { rotate(next: TestSvid): void } {
  let current = certificateOf(first)
  const listeners = new Set<() => void>()
  return {
    current: () => current,
    onRotate(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    rotate(next) {
      current = certificateOf(next)
      for (const listener of listeners) listener()
    },
  }
}

function exchanger(tls: ClientCertificate | ClientCertificateSource | undefined) {
  const exchange = tokenExchange({
    issuer: as.issuer,
    clientId: 'edge',
    auth: TlsClientAuth(),
    ...(tls === undefined ? {} : { tls }),
    issuerCa: ca.bundle,
    timeout: 5000,
  })
  closers.push(() => exchange.close())
  return exchange
}

function countGrants(): { count(): number; stop(): void } {
  let grants = 0
  const listener = () => {
    grants += 1
  }
  as.provider.on('grant.success', listener)
  return { count: () => grants, stop: () => as.provider.off('grant.success', listener) }
}

describe('tokenExchange over mutual TLS: tls_client_auth (RFC 8705 §2.1, issue 17)', () => {
  it('authenticates the edge by its SVID, discovering the issuer over TLS with the test CA', async () => {
    const token = await exchanger(certificateOf(edge)).exchange(await userToken(), {
      resource: 'api://orders',
      scope: 'orders:read',
    })
    expect(decodeJwt(token.value)).toMatchObject({
      sub: 'alice',
      aud: 'api://orders',
      scope: 'orders:read',
      act: { sub: 'edge' },
    })
  })

  it('is refused with a certificate of another workload, and without one', async () => {
    const intruder = await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/ns/shop/sa/intruder` })
    for (const tls of [certificateOf(intruder), undefined]) {
      const error = await exchanger(tls)
        .exchange(await userToken(), { resource: 'api://orders' })
        .then(
          () => undefined,
          (e: unknown) => e as { code: string; status: number; reason: string },
        )
      expect({ code: error?.code, status: error?.status, reason: error?.reason }).toEqual({
        code: 'access_denied',
        status: 403,
        reason: 'exchange_refused',
      })
    }
  })

  it('refuses an issuer whose certificate does not chain to issuerCa: 503, the token never sent', async () => {
    const other = await createTestCa({ trustDomain: 'other.example.com' })
    const exchange = tokenExchange({
      issuer: as.issuer,
      clientId: 'edge',
      auth: TlsClientAuth(),
      tls: certificateOf(edge),
      issuerCa: other.bundle,
      tokenEndpoint: as.tokenEndpoint,
      timeout: 5000,
    })
    closers.push(() => exchange.close())
    const grants = countGrants()
    try {
      const error = await exchange.exchange(await userToken(), { resource: 'api://orders' }).then(
        () => undefined,
        (e: unknown) => e as { code: string; status: number; reason: string },
      )
      expect({ code: error?.code, status: error?.status, reason: error?.reason }).toEqual({
        code: 'dependency_unavailable',
        status: 503,
        reason: 'exchange_unavailable',
      })
      expect(grants.count()).toBe(0)
    } finally {
      grants.stop()
    }
  })

  it('follows a rotated SVID: the next exchange presents the new certificate, cached tokens dropped', async () => {
    const source = handSource(edge)
    const exchange = exchanger(source)
    const grants = countGrants()
    try {
      const subject = await userToken()
      await exchange.exchange(subject, { resource: 'api://orders', scope: 'orders:read' })
      await exchange.exchange(subject, { resource: 'api://orders', scope: 'orders:read' })
      expect(grants.count()).toBe(1)
      source.rotate(await issueSvid(ca, { spiffeId: edgeId }))
      const after = await Promise.all(
        Array.from({ length: 10 }, () =>
          exchange.exchange(subject, { resource: 'api://orders', scope: 'orders:read' }),
        ),
      )
      expect(after.every((token) => token.value === after[0]?.value)).toBe(true)
      expect(grants.count()).toBe(2)
      // A certificate of another workload after a rotation is refused: the source is read at each request.
      source.rotate(await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/ns/shop/sa/intruder` }))
      await expect(
        exchange.exchange(subject, { resource: 'api://orders', scope: 'orders:read' }),
      ).rejects.toMatchObject({ code: 'access_denied', reason: 'exchange_refused' })
    } finally {
      grants.stop()
    }
  })
})
