// The connection pool of a client: one undici Agent per SVID. A rotation builds the next Agent at once,
// so new requests use the new certificate and bundle, and retires the old one: it is closed (gracefully:
// undici lets its requests finish) once the last request that took it has read its answer.
import { Agent, type Dispatcher } from 'undici'
import { spiffeIdentityCheck } from './peer.js'
import { isSvidSource, type Svid, type SvidSource } from './svid.js'

/** The agent settings a transport builds each Agent with. */
export interface TransportSettings {
  /** The client's certificate and trust bundle; none for plain TLS with the system's CAs. */
  readonly tls: Svid | SvidSource | undefined
  /**
   * What the server's certificate must chain to: the SVID's trust bundle, the system's CAs, or these
   * CA certificates (PEM).
   */
  readonly ca: 'bundle' | 'system' | string
  /** SPIFFE IDs the server may present; when set, they replace the hostname check. */
  readonly expectPeer: ReadonlySet<string> | undefined
  /** Connections kept per origin. */
  readonly connections: number
  /** Milliseconds the TLS handshake and TCP connect may take. */
  readonly connectTimeout: number
}

/** One Agent and the requests using it. */
export interface Lease {
  readonly dispatcher: Dispatcher
  /** The SPIFFE ID of the SVID this Agent presents. */
  readonly spiffeId: string | undefined
}

interface Generation extends Lease {
  readonly agent: Agent
  inFlight: number
  retired: boolean
}

/**
 * Hands out the current Agent and swaps it when the SVID rotates, without dropping a request.
 *
 * @example
 * const lease = transport.acquire()
 * try { await lease.dispatcher.request({ origin, path, method }) } finally { transport.release(lease) }
 */
export class Transport {
  #current: Generation
  readonly #settings: TransportSettings
  readonly #stop: (() => void) | undefined
  readonly #retired = new Set<Generation>()
  #closed = false

  constructor(settings: TransportSettings) {
    this.#settings = settings
    const { tls } = settings
    if (isSvidSource(tls)) {
      this.#current = this.#build(tls.current())
      this.#stop = tls.onRotate((svid) => this.#rotate(svid))
    } else {
      this.#current = this.#build(tls)
      this.#stop = undefined
    }
  }

  /** The SPIFFE ID presented now, if any. */
  get spiffeId(): string | undefined {
    return this.#current.spiffeId
  }

  /** Takes the current Agent for one request; give it back with {@link release} when its body is read. */
  acquire(): Lease {
    const generation = this.#current
    generation.inFlight++
    return generation
  }

  release(lease: Lease): void {
    const generation = lease as Generation
    generation.inFlight--
    if (generation.retired && generation.inFlight === 0) this.#retire(generation)
  }

  /** Closes every Agent once their requests are done, and stops following the SVID. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stop?.()
    const all = [this.#current, ...this.#retired]
    await Promise.all(all.map((generation) => generation.agent.close().catch(() => {})))
  }

  #rotate(svid: Svid): void {
    if (this.#closed) return
    let next: Generation
    try {
      next = this.#build(svid)
    } catch (error) {
      // A certificate Node cannot load keeps the one in use: the source checked it, so this is rare.
      process.emitWarning(
        `zerotrust: the client kept its SVID: the rotated one could not be loaded (${describe(error)})`,
        'ZeroTrustWarning',
      )
      return
    }
    const previous = this.#current
    this.#current = next
    previous.retired = true
    this.#retired.add(previous)
    if (previous.inFlight === 0) this.#retire(previous)
  }

  #retire(generation: Generation): void {
    this.#retired.delete(generation)
    // close() waits for what undici still holds (a body being read by a caller who released early).
    generation.agent.close().catch(() => {})
  }

  #build(svid: Svid | undefined): Generation {
    const { expectPeer, connections, connectTimeout, ca } = this.#settings
    const connect: Record<string, unknown> = { timeout: connectTimeout }
    if (svid !== undefined) {
      connect.cert = svid.certificate
      connect.key = svid.key
    }
    if (ca === 'bundle') connect.ca = svid?.bundle
    else if (ca !== 'system') connect.ca = ca
    if (expectPeer !== undefined) connect.checkServerIdentity = spiffeIdentityCheck(expectPeer)
    const agent = new Agent({ connections, connect })
    return { agent, dispatcher: agent, spiffeId: svid?.spiffeId, inFlight: 0, retired: false }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
