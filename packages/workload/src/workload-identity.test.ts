import { allOf, type DecisionEvent, type RequestLike } from '@zerotrust/core'
import { runAuthentication } from '@zerotrust/core/adapter'
import { createTestCa, issueSvid, type TestCa, type TestSvid } from '@zerotrust/testkit/ca'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { WorkloadIdentityOptions } from './lib/identity-options.js'
import { workloadIdentity } from './workload-identity.js'

const trustDomain = 'prod.example.com'
const checkoutId = `spiffe://${trustDomain}/ns/shop/sa/checkout`
const ordersId = `spiffe://${trustDomain}/ns/shop/sa/orders`

let ca: TestCa
let foreignCa: TestCa
let checkout: TestSvid
let billing: TestSvid
let foreign: TestSvid
let twoUris: TestSvid
let dnsOnly: TestSvid
let badId: TestSvid
let expired: TestSvid

beforeAll(async () => {
  ca = await createTestCa({ trustDomain })
  foreignCa = await createTestCa({ trustDomain: 'partner.example.net' })
  checkout = await issueSvid(ca, { spiffeId: checkoutId })
  billing = await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/ns/shop/sa/billing` })
  foreign = await issueSvid(foreignCa, { spiffeId: 'spiffe://partner.example.net/ns/shop/sa/checkout' })
  twoUris = await issueSvid(ca, { spiffeId: checkoutId, uris: [`spiffe://${trustDomain}/other`] })
  dnsOnly = await issueSvid(ca, { dns: ['checkout.shop.svc'] })
  badId = await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/ns/../sa/checkout` })
  expired = await issueSvid(ca, {
    spiffeId: checkoutId,
    notBefore: new Date(Date.now() - 3 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  })
})

afterEach(() => {
  vi.useRealTimers()
})

/** A request view as an adapter builds it over a TLS connection. */
function view(
  init: {
    svid?: TestSvid
    authorized?: boolean
    headers?: Record<string, string | string[]>
    remoteAddress?: string
  } = {},
): RequestLike {
  const headers = Object.fromEntries(
    Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v : [v]]),
  )
  const { svid } = init
  return {
    method: 'POST',
    origin: 'https://orders.example.com',
    target: '/v1/charges',
    path: '/v1/charges',
    headerValues: (name) => headers[name.toLowerCase()] ?? [],
    peerCertificate: () =>
      svid === undefined
        ? undefined
        : { raw: new Uint8Array(svid.der), authorized: init.authorized ?? true, subjectAltName: 'ignored' },
    remoteAddress: init.remoteAddress ?? '10.0.0.9',
  }
}

const mtls = (options: Partial<WorkloadIdentityOptions> = {}) =>
  workloadIdentity({ trustDomains: [trustDomain], ...options })

async function refusalOf(promise: unknown) {
  try {
    await promise
  } catch (error) {
    const { code, status, reason, challenges } = error as Record<string, unknown>
    return { code, status, reason, challenges }
  }
  throw new Error('expected a refusal')
}
const unauthenticated = (reason: string) => ({
  code: 'unauthenticated_workload',
  status: 401,
  reason,
  challenges: undefined,
})

describe('workloadIdentity, source mtls (issue 15)', () => {
  it('answers the workload alone from a verified certificate holding one SPIFFE ID', async () => {
    const auth = await mtls().authenticate(view({ svid: checkout }))
    expect(auth).toEqual({
      subject: checkoutId,
      issuer: undefined,
      audience: [],
      clientId: undefined,
      scopes: [],
      claims: {},
      scheme: 'mtls',
      format: 'x509',
      expiresAt: undefined,
      cnf: undefined,
      workload: { id: checkoutId, trustDomain, path: '/ns/shop/sa/checkout', proof: 'mtls' },
    })
    expect(Object.isFrozen(auth)).toBe(true)
    expect(Object.isFrozen(auth.workload)).toBe(true)
  })

  it('answers a proven workload at once and a refusal as a rejected promise (issue 14)', async () => {
    const layer = mtls()
    expect(layer.authenticate(view({ svid: checkout }))).not.toBeInstanceOf(Promise)
    const refused = layer.authenticate(view())
    expect(refused).toBeInstanceOf(Promise)
    await expect(refused).rejects.toMatchObject({ reason: 'no_client_certificate' })
  })

  it('refuses a request without a client certificate, and one the handshake did not verify', async () => {
    const layer = mtls()
    expect(await refusalOf(layer.authenticate(view()))).toEqual(unauthenticated('no_client_certificate'))
    const { peerCertificate: _, ...noGetter } = view()
    expect(await refusalOf(layer.authenticate(noGetter))).toEqual(unauthenticated('no_client_certificate'))
    expect(await refusalOf(layer.authenticate(view({ svid: checkout, authorized: false })))).toEqual(
      unauthenticated('certificate_unverified'),
    )
    // Absent is not known, so not verified: a view that does not say is refused.
    const unknown: RequestLike = { ...view(), peerCertificate: () => ({ raw: new Uint8Array(checkout.der) }) }
    expect(await refusalOf(layer.authenticate(unknown))).toEqual(unauthenticated('certificate_unverified'))
  })

  it('refuses certificates that are no X.509-SVID of a trusted domain', async () => {
    const layer = mtls()
    const cases: [TestSvid, string][] = [
      [twoUris, 'multiple_uri_sans'],
      [dnsOnly, 'no_spiffe_id'],
      [badId, 'invalid_spiffe_id'],
      [foreign, 'trust_domain_not_allowed'],
      [expired, 'certificate_expired'],
    ]
    for (const [svid, reason] of cases) {
      expect(await refusalOf(layer.authenticate(view({ svid }))), reason).toEqual(unauthenticated(reason))
    }
    expect(await refusalOf(layer.authenticate(view({ svid: ca as unknown as TestSvid })))).toEqual(
      unauthenticated('certificate_is_ca'),
    )
    const garbage: RequestLike = {
      ...view(),
      peerCertificate: () => ({ raw: new Uint8Array([0x30, 0x03, 1, 2, 3]), authorized: true }),
    }
    expect(await refusalOf(layer.authenticate(garbage))).toEqual(unauthenticated('malformed_certificate'))
  })

  it('names the broken rule of an invalid SPIFFE ID in the cause, never in the body', async () => {
    const error = await Promise.resolve(mtls().authenticate(view({ svid: badId }))).catch((e: unknown) => e)
    expect(error).toMatchObject({ reason: 'invalid_spiffe_id', cause: { rule: 'dot_segment' } })
  })

  it('admits a second trust domain when listed', async () => {
    const auth = await mtls({ trustDomains: [trustDomain, 'partner.example.net'] }).authenticate(
      view({ svid: foreign }),
    )
    expect(auth.workload?.trustDomain).toBe('partner.example.net')
  })

  it('refuses with 403 a proven workload outside ids or refused by match', async () => {
    const denied = {
      code: 'access_denied',
      status: 403,
      reason: 'workload_not_allowed',
      challenges: undefined,
    }
    const byIds = mtls({ ids: [checkoutId] })
    expect((await byIds.authenticate(view({ svid: checkout }))).subject).toBe(checkoutId)
    expect(await refusalOf(byIds.authenticate(view({ svid: billing })))).toEqual(denied)
    const byMatch = mtls({ match: (w) => w.path.startsWith('/ns/shop/sa/check') })
    expect((await byMatch.authenticate(view({ svid: checkout }))).subject).toBe(checkoutId)
    expect(await refusalOf(byMatch.authenticate(view({ svid: billing })))).toEqual(denied)
    // Only `true` admits.
    const truthy = mtls({ match: (() => 1) as unknown as () => boolean })
    expect(await refusalOf(truthy.authenticate(view({ svid: checkout })))).toEqual(denied)
  })

  it('reads a certificate once and then answers from what it kept, refusals included', async () => {
    const layer = mtls({ cacheSize: 2 })
    const first = await layer.authenticate(view({ svid: checkout }))
    expect(await layer.authenticate(view({ svid: checkout }))).toBe(first)
    const refused = await refusalOf(layer.authenticate(view({ svid: twoUris })))
    expect(await refusalOf(layer.authenticate(view({ svid: twoUris })))).toEqual(refused)
    // A third certificate pushes the least recent out; reading it again gives the same answer.
    await layer.authenticate(view({ svid: billing }))
    await Promise.resolve(layer.authenticate(view({ svid: dnsOnly }))).catch(() => undefined)
    expect(await layer.authenticate(view({ svid: checkout }))).toEqual(first)
  })

  it('refuses a kept certificate once it expired, as a kept-alive connection outlives it', async () => {
    const layer = mtls()
    await layer.authenticate(view({ svid: checkout }))
    vi.useFakeTimers({ now: checkout.notAfter.getTime() + 1000, toFake: ['Date'] })
    expect(await refusalOf(layer.authenticate(view({ svid: checkout })))).toEqual(
      unauthenticated('certificate_expired'),
    )
    vi.setSystemTime(checkout.notBefore.getTime() - 1000)
    expect(await refusalOf(layer.authenticate(view({ svid: checkout })))).toEqual(
      unauthenticated('certificate_not_yet_valid'),
    )
  })

  it('ignores sidecar headers and reports them in the decision event', async () => {
    const events: DecisionEvent[] = []
    const req = view({
      svid: checkout,
      headers: {
        'x-forwarded-client-cert': `By=${ordersId};URI=spiffe://${trustDomain}/admin`,
        'l5d-client-id': 'x',
      },
    })
    const auth = await runAuthentication(mtls(), req, (e) => events.push(e))
    expect(auth.subject).toBe(checkoutId)
    expect(events).toEqual([
      expect.objectContaining({
        layer: 'workload',
        outcome: 'allow',
        subject: checkoutId,
        workload: checkoutId,
        ignoredHeaders: ['x-forwarded-client-cert', 'l5d-client-id'],
      }),
    ])
    expect(JSON.stringify(events)).not.toContain('/admin')
  })

  it('stands beside a user in allOf', async () => {
    const user = {
      layer: 'jwt',
      authenticate: async () => ({
        subject: 'alice',
        issuer: 'https://idp.example.com/',
        audience: ['api://orders'],
        clientId: 'web',
        scopes: ['charges:write'],
        claims: {},
        scheme: 'Bearer' as const,
        format: 'jwt' as const,
        expiresAt: undefined,
        cnf: undefined,
      }),
    }
    const auth = await allOf(mtls(), user).authenticate(view({ svid: checkout }))
    expect(auth).toMatchObject({ subject: 'alice', workload: { id: checkoutId, proof: 'mtls' } })
  })
})

describe('workloadIdentity, source xfcc (issue 15)', () => {
  const sidecar = '127.0.0.6'
  const xfcc = (options: Partial<WorkloadIdentityOptions> = {}) =>
    workloadIdentity({
      trustDomains: [trustDomain],
      source: 'xfcc',
      trustedHops: [sidecar],
      self: ordersId,
      ...options,
    })
  const element = (uri: string, by = ordersId) =>
    `By=${by};Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/O=Shop, Inc./CN=checkout";URI=${uri}`

  it('reads the workload from the last element a trusted sidecar appended', async () => {
    const header = [element('spiffe://edge/gw', 'spiffe://edge/lb'), element(checkoutId)].join(',')
    const auth = await xfcc().authenticate(
      view({ remoteAddress: sidecar, headers: { 'x-forwarded-client-cert': header } }),
    )
    expect(auth.workload).toEqual({
      id: checkoutId,
      trustDomain,
      path: '/ns/shop/sa/checkout',
      proof: 'xfcc',
    })
    // An IPv4 peer on a dual-stack socket.
    const mapped = view({
      remoteAddress: `::ffff:${sidecar}`,
      headers: { 'x-forwarded-client-cert': element(checkoutId) },
    })
    expect((await xfcc().authenticate(mapped)).subject).toBe(checkoutId)
    // A header repeated over two lines is one list.
    const split = view({
      remoteAddress: sidecar,
      headers: { 'x-forwarded-client-cert': [element('spiffe://edge/gw'), element(checkoutId)] },
    })
    expect((await xfcc().authenticate(split)).subject).toBe(checkoutId)
  })

  it('ignores the header from a peer that is not a trusted hop, and reports it', async () => {
    const events: DecisionEvent[] = []
    const req = view({
      remoteAddress: '10.1.2.3',
      headers: { 'x-forwarded-client-cert': element(checkoutId) },
    })
    await expect(runAuthentication(xfcc(), req, (e) => events.push(e))).rejects.toMatchObject(
      unauthenticated('untrusted_hop'),
    )
    expect(events[0]).toMatchObject({
      outcome: 'deny',
      reason: 'untrusted_hop',
      ignoredHeaders: ['x-forwarded-client-cert'],
    })
    // Without the header, nothing is reported ignored.
    await expect(
      runAuthentication(xfcc(), view({ remoteAddress: '10.1.2.3' }), (e) => events.push(e)),
    ).rejects.toThrow()
    expect(events[1]).not.toHaveProperty('ignoredHeaders')
    // An unknown peer address is never a listed hop.
    const unknown = { ...req, remoteAddress: undefined }
    expect(await refusalOf(xfcc().authenticate(unknown))).toEqual(unauthenticated('untrusted_hop'))
  })

  it('takes a function of the peer address as the trusted hop rule', async () => {
    const layer = xfcc({ trustedHops: (address) => address === '::1' })
    const header = { 'x-forwarded-client-cert': element(checkoutId) }
    expect((await layer.authenticate(view({ remoteAddress: '::1', headers: header }))).subject).toBe(
      checkoutId,
    )
    expect(
      await refusalOf(layer.authenticate(view({ remoteAddress: '127.0.0.1', headers: header }))),
    ).toEqual(unauthenticated('untrusted_hop'))
  })

  it("refuses an element whose By is not this service's own: a forged or forwarded element", async () => {
    const forged = [
      element(checkoutId),
      element(`spiffe://${trustDomain}/ns/shop/sa/admin`, 'spiffe://elsewhere/x'),
    ].join(',')
    const cases: [string | undefined, string][] = [
      [undefined, 'no_sidecar_header'],
      [forged, 'xfcc_by_mismatch'],
      [`URI=${checkoutId}`, 'xfcc_by_mismatch'],
      [`By=${ordersId};Hash=ab`, 'no_spiffe_id'],
      [`By=${ordersId};URI=${checkoutId};URI=spiffe://${trustDomain}/x`, 'multiple_uri_sans'],
      [`By=${ordersId};URI=http://checkout.example`, 'invalid_spiffe_id'],
      [`By=${ordersId};URI=spiffe://partner.example.net/x`, 'trust_domain_not_allowed'],
      [`By=${ordersId};URI="${checkoutId}`, 'malformed_sidecar_header'],
      [`By=${ordersId};URI=${checkoutId},`, 'malformed_sidecar_header'],
      [`By=${ordersId};URI=${'a'.repeat(17_000)}`, 'sidecar_header_too_large'],
    ]
    for (const [header, reason] of cases) {
      const headers = header === undefined ? {} : { 'x-forwarded-client-cert': header }
      expect(await refusalOf(xfcc().authenticate(view({ remoteAddress: sidecar, headers }))), reason).toEqual(
        unauthenticated(reason),
      )
    }
  })

  it('takes a quoted By and URI, and a Subject holding commas and semicolons', async () => {
    const header = `By="${ordersId}";Subject="CN=a, O=b; c";URI="${checkoutId}"`
    const auth = await xfcc().authenticate(
      view({ remoteAddress: sidecar, headers: { 'x-forwarded-client-cert': header } }),
    )
    expect(auth.subject).toBe(checkoutId)
  })

  it('bounds the header by maxHeaderLength', async () => {
    const header = { 'x-forwarded-client-cert': element(checkoutId) }
    expect(
      await refusalOf(
        xfcc({ maxHeaderLength: 256 }).authenticate(
          view({
            remoteAddress: sidecar,
            headers: { 'x-forwarded-client-cert': `${element(checkoutId)};DNS=${'d'.repeat(200)}` },
          }),
        ),
      ),
    ).toEqual(unauthenticated('sidecar_header_too_large'))
    expect(
      (await xfcc({ maxHeaderLength: 256 }).authenticate(view({ remoteAddress: sidecar, headers: header })))
        .subject,
    ).toBe(checkoutId)
  })
})

describe('workloadIdentity, source l5d (issue 15)', () => {
  const l5d = (options: Partial<WorkloadIdentityOptions> = {}) =>
    workloadIdentity({
      trustDomains: ['cluster.local'],
      source: 'l5d',
      trustedHops: ['127.0.0.1', '::1'],
      ...options,
    })
  const from = (value: string | string[] | undefined, remoteAddress = '127.0.0.1') =>
    view({ remoteAddress, headers: value === undefined ? {} : { 'l5d-client-id': value } })

  it("maps Linkerd's identity name to a SPIFFE ID of its trust domain, namespace and service account", async () => {
    const auth = await l5d().authenticate(from('checkout.shop.serviceaccount.identity.linkerd.cluster.local'))
    expect(auth.workload).toEqual({
      id: 'spiffe://cluster.local/ns/shop/sa/checkout',
      trustDomain: 'cluster.local',
      path: '/ns/shop/sa/checkout',
      proof: 'l5d',
    })
    // A service account name may hold dots; the namespace cannot.
    expect(
      (await l5d().authenticate(from('a.b.shop.serviceaccount.identity.linkerd.cluster.local'))).subject,
    ).toBe('spiffe://cluster.local/ns/shop/sa/a.b')
  })

  it('takes a SPIFFE ID as it is', async () => {
    const auth = await l5d({ trustDomains: [trustDomain] }).authenticate(from(checkoutId, '::1'))
    expect(auth.subject).toBe(checkoutId)
  })

  it('refuses what is not a Linkerd identity, and what comes from elsewhere', async () => {
    const cases: [string | string[] | undefined, string][] = [
      [undefined, 'no_sidecar_header'],
      ['checkout', 'invalid_spiffe_id'],
      ['checkout.serviceaccount.identity.linkerd.cluster.local', 'invalid_spiffe_id'],
      ['Checkout.shop.serviceaccount.identity.linkerd.cluster.local', 'invalid_spiffe_id'],
      ['checkout.shop.serviceaccount.identity.linkerd', 'invalid_spiffe_id'],
      ['checkout.shop.serviceaccount.identity.linkerd.Cluster.local', 'invalid_spiffe_id'],
      ['checkout.shop.serviceaccount.identity.linkerd.other.example', 'trust_domain_not_allowed'],
      [
        [
          'a.shop.serviceaccount.identity.linkerd.cluster.local',
          'b.shop.serviceaccount.identity.linkerd.cluster.local',
        ],
        'malformed_sidecar_header',
      ],
      ['a'.repeat(2049), 'sidecar_header_too_large'],
    ]
    for (const [value, reason] of cases) {
      expect(await refusalOf(l5d().authenticate(from(value))), reason).toEqual(unauthenticated(reason))
    }
    expect(
      await refusalOf(
        l5d().authenticate(from('checkout.shop.serviceaccount.identity.linkerd.cluster.local', '10.0.0.8')),
      ),
    ).toEqual(unauthenticated('untrusted_hop'))
  })
})

describe('workloadIdentity options', () => {
  const mistakes: [unknown, RegExp][] = [
    [undefined, /^workloadIdentity: options must be an object$/],
    [{}, /^workloadIdentity: "trustDomains" option must be a list of trust domain names$/],
    [{ trustDomains: [] }, /"trustDomains" option must not be empty/],
    [
      { trustDomains: ['Prod.example.com'] },
      /"trustDomains\.0" option must list trust domain names: the trust domain holds a character/,
    ],
    [{ trustDomains: [trustDomain], source: 'tls' }, /"source" option must be "mtls", "xfcc" or "l5d"/],
    [
      { trustDomains: [trustDomain], ids: ['spiffe://prod.example.com/a/'] },
      /"ids\.0" option must be a list of SPIFFE IDs: the path ends with "\/"/,
    ],
    [
      { trustDomains: [trustDomain], ids: ['spiffe://other.example/a'] },
      /"ids" option must list SPIFFE IDs of the "trustDomains" only/,
    ],
    [
      { trustDomains: [trustDomain], ids: [checkoutId], match: () => true },
      /"match" option cannot be set with "ids"/,
    ],
    [
      { trustDomains: [trustDomain], trustedHops: ['127.0.0.1'] },
      /"trustedHops" option is for the "xfcc" and "l5d" sources only/,
    ],
    [{ trustDomains: [trustDomain], self: ordersId }, /"self" option is for the "xfcc" source only/],
    [
      { trustDomains: [trustDomain], source: 'xfcc', self: ordersId },
      /"trustedHops" option is required with the "xfcc" source/,
    ],
    [
      { trustDomains: [trustDomain], source: 'xfcc', trustedHops: ['127.0.0.6'] },
      /"self" option is required with the "xfcc" source/,
    ],
    [
      { trustDomains: [trustDomain], source: 'xfcc', trustedHops: ['localhost'], self: ordersId },
      /"trustedHops(\.0)?" option must (list IP addresses|be a list)/,
    ],
    [
      { trustDomains: [trustDomain], source: 'xfcc', trustedHops: [], self: ordersId },
      /"trustedHops" option must/,
    ],
    [
      { trustDomains: [trustDomain], source: 'xfcc', trustedHops: ['127.0.0.6'], self: 'orders' },
      /"self" option must be a SPIFFE ID: it does not start with "spiffe:\/\/"/,
    ],
    [
      { trustDomains: [trustDomain], source: 'l5d', trustedHops: ['127.0.0.1'], self: ordersId },
      /"self" option is for the "xfcc" source only/,
    ],
    [
      { trustDomains: [trustDomain], source: 'l5d', trustedHops: ['127.0.0.1'], cacheSize: 5 },
      /"cacheSize" option is for the "mtls" source only/,
    ],
    [{ trustDomains: [trustDomain], cacheSize: 0 }, /"cacheSize" option must be a positive integer/],
    [
      {
        trustDomains: [trustDomain],
        source: 'xfcc',
        trustedHops: ['127.0.0.6'],
        self: ordersId,
        maxHeaderLength: 10,
      },
      /"maxHeaderLength" option must be an integer, from 256/,
    ],
    [{ trustDomains: [trustDomain], sources: 'mtls' }, /"sources" option is not recognized/],
  ]
  it.each(mistakes)('refuses %j at construction, naming the option', (options, message) => {
    expect(() => workloadIdentity(options as WorkloadIdentityOptions)).toThrow(TypeError)
    expect(() => workloadIdentity(options as WorkloadIdentityOptions)).toThrow(message)
  })
})
