import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { JSONWebKeySet } from 'jose'
import { close, listen } from './lib/loopback.js'

/** How a server that is {@link JwksServer.down} fails its requests. */
export type OutageMode =
  /** Answers `503 Service Unavailable`. */
  | 'status'
  /** Destroys the connection without an answer, like a crashed or unreachable host. */
  | 'reset'

/** Counts of the requests a {@link JwksServer} received, failed ones included. */
export interface RequestCounts {
  /** Requests for `/jwks.json`. */
  readonly jwks: number
  /** Requests for the metadata document. */
  readonly discovery: number
  readonly total: number
  /** Requests per path (without the query). */
  readonly byPath: ReadonlyMap<string, number>
}

/** A running JWKS server; see {@link startJwksServer}. */
export interface JwksServer {
  /** Its origin, `http://127.0.0.1:<port>` (plus `issuerPath`), which its metadata names as `issuer`. */
  readonly issuer: string
  /** `${issuer}/jwks.json` */
  readonly jwksUri: string
  /** Where its metadata document is: `${issuer}/.well-known/openid-configuration` by default. */
  readonly discoveryUri: string
  /** What it has received so far. */
  readonly requests: RequestCounts
  /** Serves `jwks` from now on: a key rotation. */
  setJwks(jwks: JSONWebKeySet): void
  /** Overrides members of the discovery document (such as a wrong `issuer`); `undefined` removes one. */
  setDiscovery(overrides: Readonly<Record<string, unknown>>): void
  /** Starts (`true`) or ends (`false`) an outage of every path. */
  down(on?: boolean, mode?: OutageMode): void
  /** Holds every answer back by `ms` milliseconds (0 to stop). */
  delay(ms: number): void
  /** Sets the counts back to zero. */
  resetRequests(): void
  /** Stops the server, ends its connections and cancels held-back answers. */
  close(): Promise<void>
}

/** Options of {@link startJwksServer}. */
export interface JwksServerOptions {
  /** The `Cache-Control` header of JWKS answers; none by default. */
  readonly cacheControl?: string
  /**
   * Which metadata document it serves: OpenID Connect Discovery (default) or RFC 8414, whose well-known
   * segment goes between the host and the issuer's path.
   */
  readonly metadata?: 'openid' | 'oauth'
  /** A path for the issuer, such as `/tenant-a`; none by default. */
  readonly issuerPath?: string
}

const jwksPath = '/jwks.json'

/**
 * Starts a small HTTP server on 127.0.0.1 (port chosen by the OS) that serves a JWKS at `/jwks.json`
 * and an OpenID discovery document at `/.well-known/openid-configuration` naming its own origin as the
 * issuer, with controls to rotate the keys, slow it down, take it down, and count what it was asked.
 *
 * @example
 * const key = await generateSigningKey('ES256')
 * const idp = await startJwksServer(toJwks(key))
 * idp.down(true)            // 503 from now on
 * idp.down(true, 'reset')   // connections destroyed instead
 * idp.down(false)
 * expect(idp.requests.jwks).toBe(1)
 * await idp.close()
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata
 */
export async function startJwksServer(
  initialJwks: JSONWebKeySet,
  options: JwksServerOptions = {},
): Promise<JwksServer> {
  let jwks = structuredClone(initialJwks)
  let discoveryOverrides: Record<string, unknown> = {}
  let outage: OutageMode | undefined
  let delayMs = 0
  let counts = new Map<string, number>()
  const closing = new AbortController()

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    counts.set(path, (counts.get(path) ?? 0) + 1)
    if (delayMs > 0) {
      try {
        await sleep(delayMs, undefined, { signal: closing.signal })
      } catch {
        req.socket.destroy()
        return
      }
    }
    if (outage === 'reset') {
      req.socket.destroy()
      return
    }
    if (outage === 'status') {
      send(res, 503, { error: 'service unavailable' }, { 'retry-after': '1' })
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' })
      return
    }
    if (path === jwksPath) {
      const headers: Record<string, string> = options.cacheControl
        ? { 'cache-control': options.cacheControl }
        : {}
      send(res, 200, jwks, headers)
    } else if (path === discoveryPath) {
      const document = { issuer, jwks_uri: jwksUri, ...discoveryOverrides }
      send(res, 200, document, {})
    } else {
      send(res, 404, { error: 'not found' }, {})
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy())
  })
  const origin = await listen(server)
  const issuerPath = options.issuerPath ?? ''
  const issuer = `${origin}${issuerPath}`
  const jwksUri = `${origin}${jwksPath}`
  const discoveryPath =
    options.metadata === 'oauth'
      ? `/.well-known/oauth-authorization-server${issuerPath}`
      : `${issuerPath}/.well-known/openid-configuration`

  return Object.freeze({
    issuer,
    jwksUri,
    discoveryUri: `${origin}${discoveryPath}`,
    get requests(): RequestCounts {
      const byPath = new Map(counts)
      let total = 0
      for (const count of byPath.values()) total += count
      return {
        jwks: byPath.get(jwksPath) ?? 0,
        discovery: byPath.get(discoveryPath) ?? 0,
        total,
        byPath,
      }
    },
    setJwks(next: JSONWebKeySet) {
      jwks = structuredClone(next)
    },
    setDiscovery(overrides: Readonly<Record<string, unknown>>) {
      discoveryOverrides = { ...overrides }
    },
    down(on = true, mode: OutageMode = 'status') {
      outage = on ? mode : undefined
    },
    delay(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new TypeError('"ms" must be a non-negative number')
      delayMs = ms
    },
    resetRequests() {
      counts = new Map()
    },
    async close() {
      closing.abort()
      await close(server)
    },
  })
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const json = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    ...headers,
  })
  res.end(res.req.method === 'HEAD' ? undefined : json)
}
