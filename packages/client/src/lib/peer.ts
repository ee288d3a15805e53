// The server's identity, checked in the TLS handshake: its certificate chains to the bundle (Node checks
// that), and it holds exactly one URI SAN, which is one of the SPIFFE IDs expected. The hostname plays no
// part (X.509-SVID §5: a workload is named by its SPIFFE ID), so a wrong workload behind the right name
// is refused before a byte of the request is written.
import type { PeerCertificate } from 'node:tls'

/** Why a server's certificate was refused; undici hands it back as the request's error. */
export class PeerIdentityError extends Error {
  override readonly name = 'PeerIdentityError'
  readonly reason: 'peer_mismatch' | 'peer_unverified'
  /** The SPIFFE ID the server presented, when it presented exactly one. */
  readonly presented: string | undefined

  constructor(reason: 'peer_mismatch' | 'peer_unverified', presented: string | undefined) {
    super(
      reason === 'peer_mismatch'
        ? 'the server presented another SPIFFE ID than expected'
        : 'the server presented no single SPIFFE ID',
    )
    this.reason = reason
    this.presented = presented
  }
}

/** Finds a {@link PeerIdentityError} in an error or its causes (undici may wrap it). */
export function peerIdentityError(error: unknown): PeerIdentityError | undefined {
  let current = error
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof PeerIdentityError) return current
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

// Node's names of a certificate are bounded by the certificate; a longer string is not one we read.
const maxAltNamesLength = 64 * 1024

/**
 * The URI entries of Node's `subjectaltname` string (`URI:spiffe://a/b, DNS:x`). Node writes a value that
 * would make the list ambiguous as a JSON string (`URI:"spiffe://a/b, DNS:x"`), so a value starting with
 * a quote is read as JSON. A malformed list yields `undefined`.
 */
export function uriNames(text: string | undefined): string[] | undefined {
  if (text === undefined || text === '') return []
  if (text.length > maxAltNamesLength) return undefined
  const uris: string[] = []
  let at = 0
  while (at < text.length) {
    const colon = text.indexOf(':', at)
    if (colon === -1) return undefined
    const type = text.slice(at, colon)
    let value: string
    let end: number
    if (text[colon + 1] === '"') {
      end = closingQuote(text, colon + 2)
      if (end === -1) return undefined
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string
      } catch {
        return undefined
      }
      end += 1
    } else {
      end = text.indexOf(', ', colon + 1)
      if (end === -1) end = text.length
      value = text.slice(colon + 1, end)
    }
    if (type === 'URI') uris.push(value)
    if (end === text.length) break
    if (!text.startsWith(', ', end)) return undefined
    at = end + 2
  }
  return uris
}

function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === '"') return i
  }
  return -1
}

/**
 * A `checkServerIdentity` for `tls.connect` that accepts a server only when its certificate holds
 * exactly one URI SAN and that is one of `expected`.
 */
export function spiffeIdentityCheck(
  expected: ReadonlySet<string>,
): (hostname: string, certificate: PeerCertificate) => Error | undefined {
  return function checkSpiffeId(_hostname, certificate) {
    const uris = uriNames(certificate.subjectaltname)
    if (uris === undefined || uris.length !== 1) return new PeerIdentityError('peer_unverified', undefined)
    const presented = uris[0] as string
    if (!expected.has(presented)) return new PeerIdentityError('peer_mismatch', presented)
    return undefined
  }
}
