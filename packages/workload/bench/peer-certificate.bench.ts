// What reading the calling workload costs per request on a real mutual-TLS connection (issue 15): the
// request view's certificate as Node's getPeerCertificate() gives it (every field of the certificate,
// three fingerprints included, built on each call) against getPeerX509Certificate() (fields read on
// demand), which core's fromNodeRequest now uses; then the whole per-request work of direct mTLS, the
// view plus workloadIdentity on a certificate already seen, through either. One run, one connection,
// on the server's socket of a handshake made on 127.0.0.1.
//
// Run: pnpm --filter @zerotrust/workload exec tsx bench/peer-certificate.bench.ts. BENCH_TIME (ms per
// task) overrides the default.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import tls, { type TLSSocket } from 'node:tls'
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import { fromNodeRequest, noOrigin } from '@zerotrust/core/adapter'
import { createTestCa, issueSvid } from '@zerotrust/testkit/ca'
import { Bench } from 'tinybench'
import { workloadIdentity } from '../src/index.js'

const time = envInteger('BENCH_TIME', 1000)
const batch = 100
const trustDomain = 'prod.example.com'

async function main(): Promise<void> {
  const ca = await createTestCa({ trustDomain })
  const serverSvid = await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/api`, ips: ['127.0.0.1'] })
  const client = await issueSvid(ca, { spiffeId: `spiffe://${trustDomain}/checkout` })
  const server = tls.createServer({
    cert: serverSvid.chain,
    key: serverSvid.key,
    ca: ca.bundle,
    requestCert: true,
    rejectUnauthorized: true,
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'secureConnection') as Promise<[TLSSocket]>
  const outgoing = tls.connect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    ca: ca.bundle,
    cert: client.chain,
    key: client.key,
  })
  const [socket] = await accepted
  if (!socket.authorized) throw new Error('the handshake did not verify the client')

  // The socket as the view read it before: getPeerCertificate() only.
  const before = {
    remoteAddress: socket.remoteAddress,
    authorized: socket.authorized,
    getPeerCertificate: (detailed?: boolean) => socket.getPeerCertificate(detailed ?? false),
  }
  const request = (s: unknown) => ({ method: 'GET', url: '/orders', rawHeaders: [], socket: s }) as never
  const options = { resolveOrigin: noOrigin }
  const callers = workloadIdentity({ trustDomains: [trustDomain] })
  await callers.authenticate(fromNodeRequest(request(socket), options))
  let bytes = 0

  const bench = new Bench(benchOptions(time))
  bench
    .add('view before: getPeerCertificate(false)', () => {
      for (let i = 0; i < batch; i++)
        bytes += fromNodeRequest(request(before), options).peerCertificate?.()?.raw.length ?? 0
    })
    .add('view now: getPeerX509Certificate().raw', () => {
      for (let i = 0; i < batch; i++)
        bytes += fromNodeRequest(request(socket), options).peerCertificate?.()?.raw.length ?? 0
    })
    .add('view before + workloadIdentity (seen)', async () => {
      for (let i = 0; i < batch; i++) await callers.authenticate(fromNodeRequest(request(before), options))
    })
    .add('view now + workloadIdentity (seen)', async () => {
      for (let i = 0; i < batch; i++) await callers.authenticate(fromNodeRequest(request(socket), options))
    })
  await bench.run()
  report(bench, {
    title: `${batch} sequential calls per sample on one mutual-TLS connection, reported per call`,
    baseline: 'view now: getPeerX509Certificate().raw',
    batches: Object.fromEntries(bench.tasks.map((task) => [task.name, batch])),
  })
  outgoing.destroy()
  server.close()
  if (bytes === 0) throw new Error('no certificate was read')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
