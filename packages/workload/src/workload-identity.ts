import { X509Certificate } from 'node:crypto'
import {
  type Auth,
  type Authenticator,
  type PeerCertificate,
  type RequestLike,
  type Workload,
  ZeroTrustError,
} from '@zerotrust/core'
import { noteIgnoredHeaders } from '@zerotrust/core/layer'
import { LRUCache } from 'lru-cache'
import { altNames } from './lib/alt-names.js'
import {
  type WorkloadIdentityOptions,
  type WorkloadIdentitySettings,
  workloadIdentitySettings,
} from './lib/identity-options.js'
import { linkerdSpiffeId } from './lib/l5d.js'
import type { WorkloadReason } from './reasons.js'
import { readSpiffeId, type SpiffeId, spiffeIdRuleText } from './spiffe-id.js'
import { readXfcc } from './xfcc.js'

const xfccHeader = 'x-forwarded-client-cert'
const l5dHeader = 'l5d-client-id'
const sidecarHeaders = [xfccHeader, l5dHeader] as const
// A Linkerd identity is a DNS name or a SPIFFE ID: never longer than a SPIFFE ID may be.
const maxL5dLength = 2048

/**
 * The authenticator of the calling workload: its SPIFFE ID, proven by the verified client certificate
 * on this connection (`source: 'mtls'`) or by the header of a trusted sidecar that verified it
 * (`'xfcc'`: Envoy and Istio's `x-forwarded-client-cert`; `'l5d'`: Linkerd's `l5d-client-id`).
 *
 * On its own it answers an `Auth` of the workload alone (`subject` the SPIFFE ID, `scheme: 'mtls'`,
 * `format: 'x509'`, `workload` set); combine it with a token authenticator through `allOf` to require
 * both, and the user's `Auth` carries the workload beside it.
 *
 * Refusals: 401 `unauthenticated_workload` when the workload is not proven (no verified certificate
 * holding exactly one valid SPIFFE ID, no sidecar header from a trusted hop, a trust domain not listed),
 * with no `WWW-Authenticate` challenge; 403 `access_denied` (`workload_not_allowed`) when a proven
 * workload is not among `ids` or fails `match`. A sidecar header sent by a peer that is not a trusted
 * hop is ignored, and its name reported in the decision event's `ignoredHeaders`.
 *
 * With `mtls`, what a certificate says is read once and kept, by its DER, for the next `cacheSize`
 * certificates: a request over a certificate already seen costs a map lookup.
 *
 * @example
 * const callers = workloadIdentity({ trustDomains: ['prod.example.com'], source: 'mtls' })
 * app.use(authenticate(allOf(callers, tokens), { publicOrigin: 'https://orders.example.com' }))
 * @example
 * // Behind Istio: the sidecar connects from 127.0.0.6 and signs with this service's own SPIFFE ID.
 * workloadIdentity({
 *   trustDomains: ['cluster.local'],
 *   source: 'xfcc',
 *   trustedHops: ['127.0.0.6'],
 *   self: 'spiffe://cluster.local/ns/shop/sa/orders',
 * })
 * @throws TypeError naming the option, at construction
 * @see https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md
 * @see https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert
 */
export function workloadIdentity(options: WorkloadIdentityOptions): Authenticator {
  const settings = workloadIdentitySettings(options)
  const prove =
    settings.source === 'mtls'
      ? mtlsProof(settings)
      : settings.source === 'xfcc'
        ? sidecarProof(settings, xfccHeader, xfccIdentity)
        : sidecarProof(settings, l5dHeader, l5dIdentity)
  const { ids, match } = settings
  return {
    layer: 'workload',
    // Not async: proving a workload reads the connection and headers only, so the answer comes at once
    // and adapters go on without a promise (issue 14); a refusal is still a rejected promise.
    authenticate(req: RequestLike): Auth | Promise<Auth> {
      try {
        const auth = prove(req)
        const workload = auth.workload as Workload
        if (
          (ids !== undefined && !ids.has(workload.id)) ||
          (match !== undefined && match(workload) !== true)
        ) {
          throw new ZeroTrustError('access_denied', 'this workload may not call this service', {
            reason: 'workload_not_allowed' satisfies WorkloadReason,
          })
        }
        return auth
      } catch (error) {
        return Promise.reject(error)
      }
    },
  }
}

/** Proves the workload of one request, or throws the refusal; `ids` and `match` are checked after. */
type Proof = (req: RequestLike) => Auth

function refusal(reason: WorkloadReason, message: string, cause?: unknown): ZeroTrustError {
  return new ZeroTrustError(
    'unauthenticated_workload',
    message,
    cause === undefined ? { reason } : { reason, cause },
  )
}

// The Auth of a workload alone: no token, so no issuer, audience, client, scopes or claims.
function workloadAuth(id: SpiffeId, proof: Workload['proof']): Auth {
  const workload: Workload = Object.freeze({ id: id.id, trustDomain: id.trustDomain, path: id.path, proof })
  return Object.freeze({
    subject: id.id,
    issuer: undefined,
    audience: Object.freeze([]) as readonly string[],
    clientId: undefined,
    scopes: Object.freeze([]) as readonly string[],
    claims: Object.freeze({}),
    scheme: 'mtls',
    format: 'x509',
    expiresAt: undefined,
    cnf: undefined,
    workload,
  })
}

// A SPIFFE ID read from a certificate or a header, checked against the allowed trust domains; the
// refusal when it is none.
function checkedId(
  uris: readonly string[],
  settings: WorkloadIdentitySettings,
  what: string,
): SpiffeId | ZeroTrustError {
  // X509-SVID §2: exactly one URI SAN, which is the SPIFFE ID.
  if (uris.length === 0) return refusal('no_spiffe_id', `the ${what} names no SPIFFE ID`)
  if (uris.length > 1) return refusal('multiple_uri_sans', `the ${what} names more than one URI`)
  const read = readSpiffeId(uris[0])
  if (typeof read === 'string') {
    return refusal('invalid_spiffe_id', `the ${what} names no valid SPIFFE ID: ${spiffeIdRuleText(read)}`, {
      rule: read,
    })
  }
  if (!settings.trustDomains.has(read.trustDomain)) {
    return refusal(
      'trust_domain_not_allowed',
      `the ${what} names a workload of a trust domain not trusted here`,
    )
  }
  return read
}

// What one client certificate proves, kept by its DER: the Auth, or the refusal, with its validity.
interface CertificateEntry {
  readonly outcome: Auth | ZeroTrustError
  readonly notBefore: number
  readonly notAfter: number
}

function mtlsProof(settings: WorkloadIdentitySettings): Proof {
  const seen = new LRUCache<string, CertificateEntry>({ max: settings.cacheSize })
  return (req) => {
    // Sidecar headers mean nothing here: the connection's certificate is the only proof.
    noteSidecarHeaders(req)
    const certificate = req.peerCertificate?.()
    if (certificate === undefined) {
      throw refusal('no_client_certificate', 'the connection presented no client certificate')
    }
    // Only a chain the TLS stack verified against this server's CA certificates proves anything.
    if (certificate.authorized !== true) {
      throw refusal('certificate_unverified', 'the client certificate was not verified')
    }
    const raw = certificate.raw
    // The DER itself is the key: exact, and cheaper to make than a digest.
    const key = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1')
    let entry = seen.get(key)
    if (entry === undefined) {
      entry = readCertificate(certificate, settings)
      seen.set(key, entry)
    }
    // A kept-alive connection can outlive its certificate; the handshake checked it only once.
    const now = Date.now()
    if (now > entry.notAfter) throw refusal('certificate_expired', 'the client certificate expired')
    if (now < entry.notBefore) {
      throw refusal('certificate_not_yet_valid', 'the client certificate is not valid yet')
    }
    if (entry.outcome instanceof ZeroTrustError) throw entry.outcome
    return entry.outcome
  }
}

function readCertificate(certificate: PeerCertificate, settings: WorkloadIdentitySettings): CertificateEntry {
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(certificate.raw)
  } catch (cause) {
    const outcome = refusal('malformed_certificate', 'the client certificate cannot be read', cause)
    return { outcome, notBefore: Number.NEGATIVE_INFINITY, notAfter: Number.POSITIVE_INFINITY }
  }
  const validity = { notBefore: Date.parse(x509.validFrom), notAfter: Date.parse(x509.validTo) }
  // X509-SVID §4.1: a leaf SVID is never a CA.
  if (x509.ca) {
    return {
      ...validity,
      outcome: refusal('certificate_is_ca', 'the client certificate is a CA certificate'),
    }
  }
  // Read from the DER, not from the view's `subjectAltName`: what is kept depends on the DER alone.
  const names = altNames(x509.subjectAltName ?? '')
  if (names === undefined) {
    return {
      ...validity,
      outcome: refusal('malformed_certificate', "the client certificate's names cannot be read"),
    }
  }
  const uris = names.filter((name) => name.type === 'URI').map((name) => name.value)
  const id = checkedId(uris, settings, 'client certificate')
  return { ...validity, outcome: id instanceof ZeroTrustError ? id : workloadAuth(id, 'mtls') }
}

// Reports the sidecar headers a request carries where they prove nothing.
function noteSidecarHeaders(req: RequestLike): void {
  const xfcc = req.headerValues(xfccHeader).length > 0
  const l5d = req.headerValues(l5dHeader).length > 0
  if (xfcc || l5d)
    noteIgnoredHeaders(
      req,
      sidecarHeaders.filter((_, i) => (i === 0 ? xfcc : l5d)),
    )
}

function sidecarProof(
  settings: WorkloadIdentitySettings,
  header: typeof xfccHeader | typeof l5dHeader,
  identity: (values: readonly string[], settings: WorkloadIdentitySettings) => SpiffeId | ZeroTrustError,
): Proof {
  const proof = header === xfccHeader ? 'xfcc' : 'l5d'
  return (req) => {
    if (!settings.trustedHop(req.remoteAddress)) {
      noteSidecarHeaders(req)
      throw refusal('untrusted_hop', `the ${header} header is trusted only from the local sidecar`)
    }
    const values = req.headerValues(header)
    if (values.length === 0) throw refusal('no_sidecar_header', `the sidecar sent no ${header} header`)
    const id = identity(values, settings)
    if (id instanceof ZeroTrustError) throw id
    return workloadAuth(id, proof)
  }
}

function xfccIdentity(
  values: readonly string[],
  settings: WorkloadIdentitySettings,
): SpiffeId | ZeroTrustError {
  // A repeated header is one list (RFC 9110 §5.3); its length is bounded before anything is read.
  let total = values.length - 1
  for (const value of values) total += value.length
  if (total > settings.maxHeaderLength) {
    return refusal('sidecar_header_too_large', 'the x-forwarded-client-cert header is too large')
  }
  const read = readXfcc(
    values.length === 1 ? (values[0] as string) : values.join(','),
    settings.maxHeaderLength,
  )
  if (typeof read === 'string') {
    return refusal('malformed_sidecar_header', 'the x-forwarded-client-cert header is malformed')
  }
  // The last element is the one the local sidecar appended; earlier ones are what other proxies (or the
  // client) said, and prove nothing here.
  const last = read[read.length - 1] as (typeof read)[number]
  // Its `By` names the certificate the sidecar presented: this service's own, or the element was not
  // written by this service's sidecar.
  if (!(last.By ?? []).includes(settings.self as string)) {
    return refusal('xfcc_by_mismatch', "the x-forwarded-client-cert element is not this service's sidecar's")
  }
  return checkedId(last.URI ?? [], settings, 'x-forwarded-client-cert element')
}

function l5dIdentity(
  values: readonly string[],
  settings: WorkloadIdentitySettings,
): SpiffeId | ZeroTrustError {
  // The proxy sets one value; two mean the header did not come from it alone.
  if (values.length > 1) return refusal('malformed_sidecar_header', 'the l5d-client-id header is repeated')
  const value = values[0] as string
  if (value.length > maxL5dLength) {
    return refusal('sidecar_header_too_large', 'the l5d-client-id header is too large')
  }
  const id = linkerdSpiffeId(value)
  if (id === undefined) {
    return refusal('invalid_spiffe_id', 'the l5d-client-id header names no Linkerd identity or SPIFFE ID')
  }
  return checkedId([id], settings, 'l5d-client-id header')
}
