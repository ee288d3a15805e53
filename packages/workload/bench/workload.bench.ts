// Cost of reading the calling workload, without HTTP (issue 15): from a client certificate already seen
// (the bound: 5 µs), from one never seen, and from a 3-element x-forwarded-client-cert (the bound: 5 µs),
// each next to its floor: what Node itself does for the same answer (X509Certificate's parse and SAN
// string), and the bare lookup of the cache.
//
// Run: pnpm --filter @zerotrust/workload bench. BENCH_TIME (ms per task) overrides the default.
import { X509Certificate } from 'node:crypto'
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import type { RequestLike } from '@zerotrust/core'
import { createTestCa, issueSvid } from '@zerotrust/testkit/ca'
import { Bench } from 'tinybench'
import { parseXfcc, workloadIdentity } from '../src/index.js'

const time = envInteger('BENCH_TIME', 1000)
// Calls per sample, so that sub-microsecond costs are not lost in the clock's resolution.
const batch = 100
const trustDomain = 'prod.example.com'
const self = `spiffe://${trustDomain}/ns/shop/sa/orders`

// What Envoy sends through two proxies: an edge gateway's element, a mesh proxy's, and this sidecar's.
const element = (by: string, uri: string) =>
  `By=${by};Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/O=Shop, Inc./CN=client";URI=${uri}`
const xfcc = [
  element('spiffe://edge.example.com/gw', 'spiffe://edge.example.com/lb'),
  element(`spiffe://${trustDomain}/ns/edge/sa/ingress`, 'spiffe://edge.example.com/gw'),
  element(self, `spiffe://${trustDomain}/ns/shop/sa/checkout`),
].join(',')

function view(der: Uint8Array, headers: Record<string, string> = {}): RequestLike {
  return {
    method: 'POST',
    origin: undefined,
    target: '/v1/charges',
    path: '/v1/charges',
    headerValues: (name) => {
      const value = headers[name]
      return value === undefined ? [] : [value]
    },
    // Node's getPeerCertificate() makes a new DER buffer on every call: so does this view.
    peerCertificate: () => ({ raw: Buffer.from(der), authorized: true }),
    remoteAddress: '127.0.0.6',
  }
}

async function main(): Promise<void> {
  const ca = await createTestCa({ trustDomain })
  const checkout = await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/ns/shop/sa/checkout` })
  const billing = await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/ns/shop/sa/billing` })
  const seen = view(checkout.der)
  const mtls = workloadIdentity({ trustDomains: [trustDomain] })
  await mtls.authenticate(seen)
  // A cache of one certificate, alternately given two: every request reads its certificate anew.
  const cold = workloadIdentity({ trustDomains: [trustDomain], cacheSize: 1 })
  const unseen = [view(checkout.der), view(billing.der)]
  const sidecar = workloadIdentity({
    trustDomains: [trustDomain],
    source: 'xfcc',
    trustedHops: ['127.0.0.6'],
    self,
  })
  const fromSidecar = view(checkout.der, { 'x-forwarded-client-cert': xfcc })
  const floorMap = new Map([[Buffer.from(checkout.der).toString('latin1'), 1]])
  let n = 0
  // Read by the last line, so the engine cannot drop the parse it measures.
  let names = 0

  const bench = new Bench(benchOptions(time))
  bench
    .add('floor: copy the DER, key it, Map.get', () => {
      for (let i = 0; i < batch; i++) floorMap.get(Buffer.from(checkout.der).toString('latin1'))
    })
    .add('node: new X509Certificate(der).subjectAltName', () => {
      for (let i = 0; i < batch; i++) names += new X509Certificate(checkout.der).subjectAltName?.length ?? 0
    })
    .add('workloadIdentity mtls, certificate seen', async () => {
      for (let i = 0; i < batch; i++) await mtls.authenticate(seen)
    })
    .add('workloadIdentity mtls, certificate unseen', async () => {
      for (let i = 0; i < batch; i++) await cold.authenticate(unseen[n++ & 1] as RequestLike)
    })
    .add('parseXfcc, 3 elements', () => {
      for (let i = 0; i < batch; i++) parseXfcc(xfcc)
    })
    .add('workloadIdentity xfcc, 3 elements', async () => {
      for (let i = 0; i < batch; i++) await sidecar.authenticate(fromSidecar)
    })
  await bench.run()
  const tasks = bench.tasks.map((task) => task.name)
  report(bench, {
    title: `${batch} sequential calls per sample, reported per call; XFCC header ${xfcc.length} characters`,
    baseline: 'floor: copy the DER, key it, Map.get',
    batches: Object.fromEntries(tasks.map((name) => [name, batch])),
  })
  if (names === 0) throw new Error('no names were read')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
