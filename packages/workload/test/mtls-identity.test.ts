import { type Auth, allOf } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { testIssuer } from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverTls } from '../src/server-tls.js'
import { type SvidSource, svidFiles } from '../src/svid-files.js'
import { workloadIdentity } from '../src/workload-identity.js'
import {
  adapters,
  type CallResult,
  call,
  createPki,
  idOf,
  type MtlsApp,
  mountMtls,
  otherTrustDomain,
  type Pki,
  svidDirectory,
  trustDomain,
} from './fixtures.js'

// Direct mTLS on all four adapters, over real TLS on loopback (issue 15): workloadIdentity({ source:
// 'mtls' }) reads the caller's SPIFFE ID from the client certificate the handshake verified. A strict
// server (serverTls' defaults) refuses unverified certificates in the handshake; a lenient one
// (rejectUnauthorized: false) lets them reach the layer, which refuses them itself.
let pki: Pki
let directory: ReturnType<typeof svidDirectory>
let svid: SvidSource
let idp: Awaited<ReturnType<typeof testIssuer>>
const issuer = 'https://idp.example.com/'
const audience = 'api://orders'

beforeAll(async () => {
  pki = await createPki()
  directory = svidDirectory(pki.server, pki.bundle)
  svid = svidFiles({ dir: directory.dir })
  idp = await testIssuer({ issuer, audience })
})
afterAll(() => {
  svid.close()
  directory.remove()
})

const authOf = (res: CallResult) => (JSON.parse(res.body) as { auth: Auth }).auth
const refusal = (res: CallResult) => {
  const body = JSON.parse(res.body) as { code?: string; reason?: string }
  return {
    status: res.status,
    code: body.code,
    reason: body.reason,
    challenge: res.headers['www-authenticate'],
  }
}
const unauthenticated = (reason: string) => ({
  status: 401,
  code: 'unauthenticated_workload',
  reason,
  // No HTTP scheme proves a client certificate: no challenge (docs/errors.md).
  challenge: undefined,
})

describe.each(adapters)('%s: workloadIdentity over direct mutual TLS', (adapter) => {
  const callers = () => workloadIdentity({ source: 'mtls', trustDomains: [trustDomain] })
  let strict: MtlsApp
  let lenient: MtlsApp
  let both: MtlsApp
  beforeAll(async () => {
    strict = await mountMtls(adapter, { authenticator: callers(), tls: serverTls(svid) })
    lenient = await mountMtls(adapter, {
      authenticator: callers(),
      tls: serverTls(svid, { rejectUnauthorized: false }),
    })
    both = await mountMtls(adapter, {
      authenticator: allOf(callers(), jwtBearer({ issuer, audience, algorithms: ['ES256'], jwks: idp.jwks })),
      tls: serverTls(svid),
    })
  })
  afterAll(async () => {
    await strict.close()
    await lenient.close()
    await both.close()
  })

  const send = (app: MtlsApp, client: Pki['checkout'] | undefined, token?: string) =>
    call(app.port, {
      client,
      ca: pki.ca.bundle,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    })

  it('accepts a workload of the trust domain, and the handler sees it in auth.workload', async () => {
    const res = await send(strict, pki.checkout)
    expect(res.status).toBe(200)
    expect(authOf(res)).toMatchObject({
      subject: idOf('checkout'),
      scheme: 'mtls',
      format: 'x509',
      workload: { id: idOf('checkout'), trustDomain, path: '/checkout', proof: 'mtls' },
    })
    const other = await send(strict, pki.orders)
    expect(authOf(other).workload?.id).toBe(idOf('orders'))
  })

  it('refuses a workload of another trust domain, though its CA is in the bundle', async () => {
    expect(refusal(await send(strict, pki.staging))).toEqual(unauthenticated('trust_domain_not_allowed'))
    expect(pki.staging.spiffeId).toBe(idOf('checkout', otherTrustDomain))
  })

  it('refuses a certificate with two URI SANs', async () => {
    expect(refusal(await send(strict, pki.twoUris))).toEqual(unauthenticated('multiple_uri_sans'))
  })

  it('refuses a certificate with a DNS SAN only', async () => {
    expect(refusal(await send(strict, pki.dnsOnly))).toEqual(unauthenticated('no_spiffe_id'))
  })

  it('lets the handshake refuse an expired certificate or one of an unknown CA; past it, the layer does', async () => {
    await expect(send(strict, pki.expired)).rejects.toThrow()
    await expect(send(strict, pki.rogue)).rejects.toThrow()
    expect(refusal(await send(lenient, pki.expired))).toEqual(unauthenticated('certificate_unverified'))
    expect(refusal(await send(lenient, pki.rogue))).toEqual(unauthenticated('certificate_unverified'))
  })

  it('answers 401 with a clear reason when no client certificate was sent', async () => {
    await expect(send(strict, undefined)).rejects.toThrow()
    expect(refusal(await send(lenient, undefined))).toEqual(unauthenticated('no_client_certificate'))
  })

  it('carries the user and the calling workload in one Auth with allOf', async () => {
    const token = await idp.sign()
    const res = await send(both, pki.checkout, token)
    expect(res.status).toBe(200)
    expect(authOf(res)).toMatchObject({
      subject: 'alice',
      format: 'jwt',
      workload: { id: idOf('checkout'), proof: 'mtls' },
    })
    // Both must succeed: the workload without the user's token is refused by the token layer.
    expect(refusal(await send(both, pki.checkout))).toMatchObject({ status: 401 })
  })
})
