// Shared pieces of the client's real-component tests: an SVID source that a test rotates by hand, and
// mutual-TLS servers on 127.0.0.1 with certificates of the testkit's CA.
import { createServer as createHttpsServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { TestSvid } from '@zerotrust/testkit/ca'
import type { Svid, SvidSource } from '../src/index.js'

/** The {@link Svid} of a test SVID: the chain as the certificate, its bundle. */
export function svidOf(svid: TestSvid): Svid {
  return { certificate: svid.chain, key: svid.key, bundle: svid.bundle, spiffeId: svid.spiffeId ?? '' }
}

/** An SVID source whose `rotate` announces a new SVID, as svidFiles does when the files change. */
export function handSource(
  first: TestSvid,
): SvidSource & { rotate(next: TestSvid): void; listeners(): number } {
  let current = svidOf(first)
  const listeners = new Set<(svid: Svid) => void>()
  return {
    current: () => current,
    onRotate(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    rotate(next) {
      current = svidOf(next)
      for (const listener of listeners) listener(current)
    },
    listeners: () => listeners.size,
  }
}

/** The SPIFFE ID in the client certificate of a request (its one URI SAN) and the certificate's fingerprint. */
export function peerOf(socket: TLSSocket): { id: string | undefined; fingerprint: string } {
  const certificate = socket.getPeerCertificate()
  const id = /URI:(spiffe:\/\/[^,\s]+)/.exec(certificate.subjectaltname ?? '')?.[1]
  return { id, fingerprint: certificate.fingerprint256 }
}

/** Listens on 127.0.0.1 with a port the OS picks; resolves with the origin. */
export function listen(server: Server, port = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)
    })
  })
}

/** Closes a server and every connection it holds. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/** A server that requires a client certificate chaining to `bundle`, presenting `svid`. */
export function mtlsServer(svid: TestSvid, listener: Parameters<typeof createHttpsServer>[1]): Server {
  return createHttpsServer(
    { cert: svid.chain, key: svid.key, ca: svid.bundle, requestCert: true, rejectUnauthorized: true },
    listener,
  )
}
