// The transport of `tokenExchange` when it talks to the authorization server over mutual TLS (RFC 8705):
// a `fetch` on node:https with this workload's certificate, so the package needs no HTTP client beyond
// Node. One keep-alive Agent per certificate: when the certificate changes, the next request builds a new
// Agent and the old one is destroyed once its last request has read its answer. The answer's body is
// bounded by the caller (`fetchBounded`), which cancels it past its limit.
import { Agent, request } from 'node:https'
import { Readable } from 'node:stream'
import type { ClientCertificate, ClientCertificateSource } from './options.js'

interface Generation {
  readonly agent: Agent
  readonly certificate: string | undefined
  inFlight: number
  retired: boolean
}

/** Statuses whose answer has no body (RFC 9110 §6.4.1): `Response` refuses one. */
const bodiless = new Set([101, 103, 204, 205, 304])

/**
 * A `fetch` over node:https presenting `tls` (when given) and trusting `ca` (the system's CAs when
 * absent). Only what oauth4webapi's requests use: a method, headers, a string or form body, a signal; no
 * redirects are followed.
 */
export class TlsFetch {
  readonly #tls: ClientCertificate | ClientCertificateSource | undefined
  readonly #ca: string | undefined
  readonly #connections: number
  #current: Generation | undefined
  #closed = false

  constructor(
    tls: ClientCertificate | ClientCertificateSource | undefined,
    ca: string | undefined,
    connections = 4,
  ) {
    this.#tls = tls
    this.#ca = ca
    this.#connections = connections
  }

  /** A `fetch` for `fetchBounded`'s `fetch` option. */
  readonly fetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (this.#closed) return Promise.reject(new Error('the token exchange was closed'))
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
    const generation = this.#generation()
    generation.inFlight++
    let released = false
    const release = () => {
      if (released) return
      released = true
      generation.inFlight--
      if (generation.retired && generation.inFlight === 0) generation.agent.destroy()
    }
    return new Promise<Response>((resolve, reject) => {
      const headers: Record<string, string> = {}
      for (const [name, value] of new Headers(init.headers)) headers[name] = value
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          agent: generation.agent,
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          res.once('close', release)
          const answerHeaders = new Headers()
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            answerHeaders.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string)
          }
          const status = res.statusCode ?? 502
          if (bodiless.has(status)) res.resume()
          const body = bodiless.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>)
          resolve(new Response(body, { status, headers: answerHeaders }))
        },
      )
      req.once('error', (error) => {
        release()
        reject(error)
      })
      const body = init.body
      if (body === undefined || body === null) req.end()
      else if (typeof body === 'string' || body instanceof URLSearchParams) req.end(String(body))
      else {
        req.destroy()
        reject(new TypeError('only a string or form body is sent'))
      }
    })
  }

  /** Destroys every connection. */
  close(): void {
    this.#closed = true
    const current = this.#current
    this.#current = undefined
    current?.agent.destroy()
  }

  /** The Agent of the certificate in use now: a new one when the source has rotated. */
  #generation(): Generation {
    const presented = this.#tls === undefined ? undefined : certificateOf(this.#tls)
    const current = this.#current
    if (current !== undefined && current.certificate === presented?.certificate) return current
    const next: Generation = {
      agent: new Agent({
        keepAlive: true,
        maxSockets: this.#connections,
        ...(presented === undefined ? {} : { cert: presented.certificate, key: presented.key }),
        ...(this.#ca === undefined ? {} : { ca: this.#ca }),
      }),
      certificate: presented?.certificate,
      inFlight: 0,
      retired: false,
    }
    this.#current = next
    if (current !== undefined) {
      current.retired = true
      if (current.inFlight === 0) current.agent.destroy()
    }
    return next
  }
}

function certificateOf(tls: ClientCertificate | ClientCertificateSource): ClientCertificate {
  return typeof (tls as ClientCertificateSource).current === 'function'
    ? (tls as ClientCertificateSource).current()
    : (tls as ClientCertificate)
}
