import type { SecureContextOptions, SecureVersion } from 'node:tls'
import { ZeroTrustError } from '@zerotrust/core'
import type { Svid } from './lib/svid-check.js'
import { type ServerTlsOptions, serverTlsSettings } from './lib/svid-options.js'
import type { SvidSource } from './svid-files.js'

export type { ServerTlsOptions } from './lib/svid-options.js'

/**
 * A server whose certificate can be swapped: Node's `https.Server`, `http2.Http2SecureServer` and
 * `tls.Server` are.
 */
export interface SecureContextServer {
  setSecureContext(options: SecureContextOptions): void
  once(event: 'close', listener: () => void): unknown
}

/**
 * Server options of mutual TLS from an SVID, for `https.createServer`, `http2.createSecureServer` and
 * `tls.createServer`, and the hook that keeps a server's certificate current; see {@link serverTls}.
 */
export interface ServerTls {
  /** Always: the server asks every client for its certificate. */
  readonly requestCert: true
  /** Whether a client whose certificate does not verify to the bundle is refused in the handshake. */
  readonly rejectUnauthorized: boolean
  readonly minVersion: SecureVersion
  /** The current SVID's certificate chain, PEM: read when the options are, at `createServer`. */
  readonly cert: string
  /** The current SVID's private key, PEM. */
  readonly key: string
  /** The current trust bundle, PEM: the CAs client certificates must chain to. */
  readonly ca: string
  /**
   * Keeps `server`'s certificate, key and bundle those of the current SVID: each new SVID goes to
   * `server.setSecureContext()`, so new handshakes use it while connections already open keep theirs.
   * The server is let go when it closes. Returns `server`.
   */
  attach<S extends SecureContextServer>(server: S): S
  /** Stops following the SVID: attached servers keep the certificate they have. */
  close(): void
}

/**
 * Mutual TLS server options from an SVID source (`svidFiles`), and hot reload of the certificate.
 *
 * Node takes a server's certificate once, when it is created, so the options alone cannot follow a
 * rotation: hand the server to `attach()`, which calls `setSecureContext()` with every new SVID (new
 * handshakes get the new certificate and bundle; open connections keep working). A rotation while no
 * server is attached is reported to `onError`. The options are read through getters, so they are
 * those of the SVID current when the server is created; spreading them (`{ ...tls, allowHTTP1: true }`)
 * reads them too.
 *
 * `requestCert` is always on and `rejectUnauthorized` is on by default, so the handshake itself refuses a
 * client certificate that does not chain to the bundle; `workloadIdentity({ source: 'mtls' })` then
 * reads the verified certificate's SPIFFE ID.
 *
 * @example
 * const svid = svidFiles({ dir: '/run/spiffe' })
 * const tls = serverTls(svid)
 * const server = tls.attach(https.createServer(tls, app))
 * // HTTP/2: tls.attach(http2.createSecureServer({ ...tls, allowHTTP1: true }, handler))
 * @throws TypeError naming the option, at construction
 * @see https://nodejs.org/api/tls.html#serversetsecurecontextoptions
 */
export function serverTls(svid: SvidSource, options?: ServerTlsOptions): ServerTls {
  if (
    typeof svid !== 'object' ||
    svid === null ||
    typeof svid.current !== 'function' ||
    typeof svid.onRotate !== 'function'
  ) {
    throw new TypeError('serverTls: the SVID source must have "current" and "onRotate" (such as svidFiles())')
  }
  const { rejectUnauthorized, minVersion, context, report } = serverTlsSettings(options)
  const servers = new Set<SecureContextServer>()
  const contextOf = (current: Svid): SecureContextOptions => ({
    ...context,
    minVersion,
    cert: current.certificate,
    key: current.key,
    ca: current.bundle,
  })
  const safeReport = (error: Error) => {
    try {
      report(error)
    } catch {
      // A sink that throws must not stop the next server from getting the SVID.
    }
  }
  const swap = (server: SecureContextServer, current: Svid) => {
    try {
      server.setSecureContext(contextOf(current))
    } catch (error) {
      safeReport(
        new ZeroTrustError('dependency_unavailable', `a server refused the SVID of "${current.spiffeId}"`, {
          reason: 'secure_context_failed',
          cause: error,
        }),
      )
    }
  }
  const unsubscribe = svid.onRotate((current) => {
    if (servers.size === 0) {
      safeReport(
        new ZeroTrustError(
          'internal_error',
          `serverTls: a new SVID of "${current.spiffeId}" arrived but no server is attached: pass the server to attach()`,
          { reason: 'server_not_attached' },
        ),
      )
      return
    }
    for (const server of servers) swap(server, current)
  })

  const tls = {
    requestCert: true as const,
    rejectUnauthorized,
    minVersion,
    ...context,
    get cert() {
      return svid.current().certificate
    },
    get key() {
      return svid.current().key
    },
    get ca() {
      return svid.current().bundle
    },
  }
  // Not enumerable: spreading the options into `createServer` carries the TLS settings only.
  Object.defineProperties(tls, {
    attach: {
      value<S extends SecureContextServer>(server: S): S {
        if (typeof server?.setSecureContext !== 'function') {
          throw new TypeError('serverTls: attach() takes a TLS server (https, http2 secure or tls)')
        }
        if (!servers.has(server)) {
          servers.add(server)
          server.once('close', () => servers.delete(server))
          // The SVID may have rotated between reading the options and attaching.
          swap(server, svid.current())
        }
        return server
      },
    },
    close: {
      value(): void {
        unsubscribe()
        servers.clear()
      },
    },
  })
  return tls as typeof tls & Pick<ServerTls, 'attach' | 'close'>
}
