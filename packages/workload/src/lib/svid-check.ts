// The checks an X.509-SVID passes before it is served: each file parses, the key is the certificate's,
// the leaf is inside its validity window and not a CA, its chain verifies to the trust bundle, and it
// names exactly one SPIFFE ID. All on node:crypto.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { ZeroTrustError } from '@zerotrust/core'
import { readSpiffeId } from '../spiffe-id.js'
import { altNames } from './alt-names.js'

/** An X.509-SVID that passed every check: what `svidFiles().current()` returns. */
export interface Svid {
  /** The leaf certificate followed by its intermediates, PEM, as read from the certificate file. */
  readonly certificate: string
  /** The leaf's private key, PEM. */
  readonly key: string
  /** The trust bundle: the CA certificates peers of this trust domain are verified against, PEM. */
  readonly bundle: string
  /** The SPIFFE ID of the leaf's one URI SAN, such as `spiffe://prod.example.com/api`. */
  readonly spiffeId: string
  /** The trust domain of {@link Svid.spiffeId}. */
  readonly trustDomain: string
  /** Start of the leaf's validity. */
  readonly notBefore: Date
  /** End of the leaf's validity: renew before it. */
  readonly notAfter: Date
}

/** The three texts of one SVID and the paths they came from (for messages). */
export interface SvidTexts {
  readonly certificate: string
  readonly key: string
  readonly bundle: string
}

export interface SvidPaths {
  readonly certificate: string
  readonly key: string
  readonly bundle: string
}

// A leaf and its intermediates: SPIRE chains are a few certificates deep.
const maxChain = 8
// A bundle holds the CA certificates of a trust domain (several during a CA rotation), with
// intermediates too under spiffe-helper's `add_intermediates_to_bundle`.
const maxBundle = 64

/** The error of an SVID that cannot be served: `dependency_unavailable`, never answered to a client. */
export function svidError(reason: string, message: string, cause?: object): ZeroTrustError {
  return new ZeroTrustError(
    'dependency_unavailable',
    message,
    cause === undefined ? { reason } : { reason, cause },
  )
}

// The body between the armour lines holds base64 and whitespace only, so `[^-]*` stops at the end line
// and the scan is linear; the texts are bounded by their reader (1 MiB).
const certificateBlock = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g

function certificates(text: string, path: string, max: number): X509Certificate[] {
  const found: X509Certificate[] = []
  for (const match of text.matchAll(certificateBlock)) {
    if (found.length === max) {
      throw svidError('svid_unreadable', `"${path}" holds more than ${max} certificates`, { file: path })
    }
    try {
      found.push(new X509Certificate(Buffer.from(match[1] as string, 'base64')))
    } catch {
      throw svidError('svid_unreadable', `"${path}" holds a certificate that does not parse`, { file: path })
    }
  }
  if (found.length === 0) {
    throw svidError('svid_unreadable', `"${path}" holds no PEM certificate`, { file: path })
  }
  return found
}

function privateKey(text: string, path: string): KeyObject {
  try {
    return createPrivateKey(text)
  } catch {
    throw svidError('svid_unreadable', `"${path}" holds no PEM private key`, { file: path })
  }
}

function window(certificate: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(certificate.validFrom), notAfter: new Date(certificate.validTo) }
}

function checkWindow(certificate: X509Certificate, path: string, what: string, now: number): void {
  const { notBefore, notAfter } = window(certificate)
  const dates = `valid from ${notBefore.toISOString()} to ${notAfter.toISOString()}`
  const cause = { file: path, notBefore, notAfter }
  if (now > notAfter.getTime()) {
    throw svidError('svid_expired', `the ${what} in "${path}" expired (${dates})`, cause)
  }
  if (now < notBefore.getTime()) {
    throw svidError('svid_not_yet_valid', `the ${what} in "${path}" is not valid yet (${dates})`, cause)
  }
}

/** Whether `issuer` issued and signed `subject`. */
function signed(subject: X509Certificate, issuer: X509Certificate): boolean {
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey)
}

/**
 * Walks from the leaf through the intermediates of the certificate file to a certificate of the bundle,
 * each link issued and signed by the next, each intermediate a CA inside its validity window.
 */
function checkChain(
  chain: readonly X509Certificate[],
  bundle: readonly X509Certificate[],
  paths: SvidPaths,
  now: number,
): void {
  let current = chain[0] as X509Certificate
  const unused = new Set(chain.slice(1))
  for (let depth = 0; depth <= chain.length; depth++) {
    if (bundle.some((anchor) => anchor.ca && signed(current, anchor))) return
    const next = [...unused].find((candidate) => candidate.ca && signed(current, candidate))
    if (next === undefined) break
    checkWindow(next, paths.certificate, 'intermediate CA certificate', now)
    unused.delete(next)
    current = next
  }
  throw svidError(
    'svid_untrusted',
    `the certificate in "${paths.certificate}" does not chain to a CA of "${paths.bundle}"`,
    { file: paths.certificate, bundle: paths.bundle },
  )
}

/**
 * Checks the texts of one X.509-SVID and returns it, or throws the first failure as a
 * `dependency_unavailable` error whose reason says which check failed and whose message names the file
 * (and the dates of a certificate outside its validity window).
 *
 * @see https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md §4 and §5
 */
export function checkSvid(texts: SvidTexts, paths: SvidPaths, now: number = Date.now()): Svid {
  const chain = certificates(texts.certificate, paths.certificate, maxChain)
  const key = privateKey(texts.key, paths.key)
  const bundle = certificates(texts.bundle, paths.bundle, maxBundle)
  const leaf = chain[0] as X509Certificate
  // A half-written pair (spiffe-helper writes the three files one after another) fails here.
  if (!leaf.checkPrivateKey(key)) {
    throw svidError(
      'svid_key_mismatch',
      `the key in "${paths.key}" does not belong to the certificate in "${paths.certificate}"`,
      { file: paths.key, certificate: paths.certificate },
    )
  }
  checkWindow(leaf, paths.certificate, 'certificate', now)
  // X.509-SVID §4.1: a leaf SVID is not a CA.
  if (leaf.ca) {
    throw svidError(
      'svid_invalid',
      `the certificate in "${paths.certificate}" is a CA certificate, not a leaf`,
      {
        file: paths.certificate,
      },
    )
  }
  // A SAN string that cannot be read is refused, never guessed at.
  const names = leaf.subjectAltName === undefined ? [] : altNames(leaf.subjectAltName)
  if (names === undefined) {
    throw svidError('svid_invalid', `the names of the certificate in "${paths.certificate}" cannot be read`, {
      file: paths.certificate,
    })
  }
  const uris = names.filter((name) => name.type === 'URI')
  // X.509-SVID §2: exactly one URI SAN, and it is the SPIFFE ID.
  if (uris.length !== 1) {
    throw svidError(
      'svid_invalid',
      `the certificate in "${paths.certificate}" must have exactly one URI SAN, the SPIFFE ID; it has ${uris.length}`,
      { file: paths.certificate },
    )
  }
  const id = readSpiffeId((uris[0] as { value: string }).value)
  if (typeof id === 'string') {
    throw svidError(
      'svid_invalid',
      `the URI SAN of the certificate in "${paths.certificate}" is not a SPIFFE ID (${id})`,
      { file: paths.certificate, rule: id },
    )
  }
  checkChain(chain, bundle, paths, now)
  return Object.freeze({
    certificate: texts.certificate,
    key: texts.key,
    bundle: texts.bundle,
    spiffeId: id.id,
    trustDomain: id.trustDomain,
    ...window(leaf),
  })
}
