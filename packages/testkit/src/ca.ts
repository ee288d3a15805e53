// A test certificate authority and X.509-SVID generator (`@zerotrust/testkit/ca`, apart from the main
// entry so that only tests of certificates load @peculiar/x509 and the Reflect polyfill it needs).
// Keys come from node:crypto's WebCrypto; certificates are built and signed with @peculiar/x509.
//
// The SVIDs follow the X.509-SVID specification: the leaf carries its SPIFFE ID as a URI SAN, is not a
// CA, has `digitalSignature` and the `serverAuth` and `clientAuth` extended key usages; a signing
// certificate is a CA with `keyCertSign` and may carry the trust domain's SPIFFE ID.
// tsyringe, under @peculiar/x509, throws at import without a Reflect metadata polyfill: keep this first.
import 'reflect-metadata'
import { createHash, createPrivateKey, webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

/** Key algorithms of test CAs and SVIDs: P-256, P-384, or RSA 2048 with SHA-256. */
export type TestKeyAlgorithm = 'ES256' | 'ES384' | 'RS256'

/** Options of {@link createTestCa}. */
export interface TestCaOptions {
  /** The trust domain the CA signs for, e.g. `prod.example.com`; its SPIFFE ID goes into a URI SAN. */
  readonly trustDomain: string
  /** The subject common name; `<trustDomain> test CA` (or `… intermediate CA`) by default. */
  readonly commonName?: string
  /** Another test CA that signs this one: the result is an intermediate CA under it. */
  readonly parent?: TestCa
  /** Start of validity; an hour ago by default. */
  readonly notBefore?: Date
  /** End of validity; a year from now by default. */
  readonly notAfter?: Date
  /** `ES256` by default. */
  readonly keyAlg?: TestKeyAlgorithm
}

/** A test certificate authority; see {@link createTestCa}. */
export interface TestCa {
  readonly trustDomain: string
  /** This CA's certificate, PEM. */
  readonly certificate: string
  /** This CA's certificate, DER. */
  readonly der: Buffer
  /** This CA's private key, PKCS #8 PEM. */
  readonly key: string
  /**
   * The trust anchor to verify this CA's SVIDs with, PEM: this CA's certificate, or its root's when it
   * is an intermediate. This is what a peer puts in `ca` and spiffe-helper writes to `svid_bundle.pem`.
   */
  readonly bundle: string
  /** The intermediate CA certificates between an SVID and the bundle, PEM, leaf-most first (empty for a root). */
  readonly intermediates: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** @internal the signing key and algorithm, for {@link issueSvid}. */
  readonly signer: Signer
}

interface Signer {
  readonly privateKey: webcrypto.CryptoKey
  readonly publicKey: webcrypto.CryptoKey
  readonly algorithm: SigningAlgorithm
  readonly name: string
}

/** A WebCrypto signature algorithm: ECDSA with its hash, or RSASSA-PKCS1-v1_5 (hash from the key). */
type SigningAlgorithm = { readonly name: string; readonly hash?: string }

/** Options of {@link issueSvid}. */
export interface SvidOptions {
  /** The SPIFFE ID, written as the first URI SAN. Leave it out for a certificate without one. */
  readonly spiffeId?: string
  /** More URI SANs after `spiffeId` (two URI SANs make an invalid SVID, which tests need). */
  readonly uris?: readonly string[]
  /** DNS SANs, e.g. `['localhost']` for a server certificate. */
  readonly dns?: readonly string[]
  /** IP address SANs, e.g. `['127.0.0.1']` for a server certificate on loopback. */
  readonly ips?: readonly string[]
  /** The subject common name; the subject is `O=SPIFFE` without one (SPIFFE names by the URI SAN). */
  readonly commonName?: string
  /** Start of validity; an hour ago by default. */
  readonly notBefore?: Date
  /** End of validity; a day from now by default. */
  readonly notAfter?: Date
  /** `ES256` by default. */
  readonly keyAlg?: TestKeyAlgorithm
  /** The extended key usages; both `serverAuth` and `clientAuth` by default, as SPIRE issues them. */
  readonly usages?: readonly ('serverAuth' | 'clientAuth')[]
}

/** A certificate and key issued by {@link issueSvid}. */
export interface TestSvid {
  /** The SPIFFE ID passed in, if any. */
  readonly spiffeId: string | undefined
  /** The leaf certificate, PEM (spiffe-helper's `svid.pem` holds {@link TestSvid.chain}). */
  readonly certificate: string
  /** The leaf certificate, DER. */
  readonly der: Buffer
  /** The leaf's private key, PKCS #8 PEM (`svid_key.pem`). */
  readonly key: string
  /** The leaf followed by the issuing CA's intermediates, PEM: what a TLS peer presents as `cert`. */
  readonly chain: string
  /** The issuing CA's trust anchor, PEM (`svid_bundle.pem`). */
  readonly bundle: string
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER, the value a bound token's `cnf` carries. */
  readonly x5tS256: string
  readonly notBefore: Date
  readonly notAfter: Date
}

const hour = 60 * 60 * 1000
const day = 24 * hour

function keyParams(alg: TestKeyAlgorithm): {
  generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams
  sign: SigningAlgorithm
} {
  switch (alg) {
    case 'ES256':
      return { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } }
    case 'ES384':
      return { generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } }
    case 'RS256':
      return {
        generate: {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        sign: { name: 'RSASSA-PKCS1-v1_5' },
      }
    default:
      throw new TypeError(`testkit: "keyAlg" option must be one of ES256, ES384, RS256`)
  }
}

async function generateKey(
  alg: TestKeyAlgorithm,
): Promise<{ pair: webcrypto.CryptoKeyPair; sign: SigningAlgorithm }> {
  const { generate, sign } = keyParams(alg)
  const pair = (await webcrypto.subtle.generateKey(generate, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair
  return { pair, sign }
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key))
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  }) as string
}

/** The distinguished name string of a common name, escaped as RFC 4514 asks. */
function commonNameDn(commonName: string): string {
  return `CN=${commonName.replace(/[\\,+"<>;=#]/g, (c) => `\\${c}`)}`
}

/** RFC 8705 §3.1: base64url(SHA-256(DER)), no padding. */
export function x5tS256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url')
}

function pemOf(certificate: x509.X509Certificate): string {
  return `${certificate.toString('pem')}\n`
}

/**
 * Creates a test CA for `trustDomain`: a self-signed root, or an intermediate when `parent` is given.
 *
 * @example
 * const ca = await createTestCa({ trustDomain: 'prod.example.com' })
 * const server = await issueSvid(ca, { spiffeId: 'spiffe://prod.example.com/api', ips: ['127.0.0.1'] })
 * const client = await issueSvid(ca, { spiffeId: 'spiffe://prod.example.com/checkout' })
 * https.createServer({ cert: server.chain, key: server.key, ca: ca.bundle, requestCert: true })
 * @see https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md §4.1 signing certificates
 */
export async function createTestCa(options: TestCaOptions): Promise<TestCa> {
  const { trustDomain, parent, keyAlg = 'ES256' } = options
  const notBefore = options.notBefore ?? new Date(Date.now() - hour)
  const notAfter = options.notAfter ?? new Date(Date.now() + 365 * day)
  const name = commonNameDn(options.commonName ?? `${trustDomain} test ${parent ? 'intermediate ' : ''}CA`)
  const { pair, sign } = await generateKey(keyAlg)
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(pair.publicKey, false, webcrypto),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }], false),
  ]
  let certificate: x509.X509Certificate
  if (parent === undefined) {
    certificate = await x509.X509CertificateGenerator.createSelfSigned(
      { name, keys: pair, notBefore, notAfter, extensions, signingAlgorithm: sign },
      webcrypto,
    )
  } else {
    extensions.push(
      await x509.AuthorityKeyIdentifierExtension.create(parent.signer.publicKey, false, webcrypto),
    )
    certificate = await x509.X509CertificateGenerator.create(
      {
        subject: name,
        issuer: parent.signer.name,
        publicKey: pair.publicKey,
        signingKey: parent.signer.privateKey,
        signingAlgorithm: parent.signer.algorithm,
        notBefore,
        notAfter,
        extensions,
      },
      webcrypto,
    )
  }
  const pem = pemOf(certificate)
  return {
    trustDomain,
    certificate: pem,
    der: Buffer.from(certificate.rawData),
    key: await pkcs8Pem(pair.privateKey),
    bundle: parent?.bundle ?? pem,
    intermediates: parent === undefined ? '' : pem + parent.intermediates,
    notBefore,
    notAfter,
    signer: { privateKey: pair.privateKey, publicKey: pair.publicKey, algorithm: sign, name },
  }
}

/**
 * Issues a leaf certificate signed by `ca`: an X.509-SVID when `spiffeId` is given, and whatever broken
 * variant a test needs otherwise (two URI SANs, a DNS SAN only, an expired window).
 *
 * @example
 * const ca = await createTestCa({ trustDomain: 'prod.example.com' })
 * const checkout = await issueSvid(ca, { spiffeId: 'spiffe://prod.example.com/checkout' })
 * const expired = await issueSvid(ca, {
 *   spiffeId: 'spiffe://prod.example.com/old',
 *   notBefore: new Date(Date.now() - 2 * 86_400_000),
 *   notAfter: new Date(Date.now() - 86_400_000),
 * })
 * tls.connect({ host: '127.0.0.1', port, ca: ca.bundle, cert: checkout.chain, key: checkout.key })
 * @see https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md §4.3 leaf certificates
 */
export async function issueSvid(ca: TestCa, options: SvidOptions = {}): Promise<TestSvid> {
  const { spiffeId, keyAlg = 'ES256', usages = ['serverAuth', 'clientAuth'] } = options
  const notBefore = options.notBefore ?? new Date(Date.now() - hour)
  const notAfter = options.notAfter ?? new Date(Date.now() + day)
  const names: x509.JsonGeneralName[] = [
    ...(spiffeId === undefined ? [] : [spiffeId]),
    ...(options.uris ?? []),
  ].map((value) => ({ type: 'url', value }))
  for (const value of options.dns ?? []) names.push({ type: 'dns', value })
  for (const value of options.ips ?? []) names.push({ type: 'ip', value })
  const { pair } = await generateKey(keyAlg)
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      usages.map((usage) => x509.ExtendedKeyUsage[usage]),
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(pair.publicKey, false, webcrypto),
    await x509.AuthorityKeyIdentifierExtension.create(ca.signer.publicKey, false, webcrypto),
  ]
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false))
  const certificate = await x509.X509CertificateGenerator.create(
    {
      subject:
        options.commonName === undefined ? 'O=SPIFFE' : `O=SPIFFE, ${commonNameDn(options.commonName)}`,
      issuer: ca.signer.name,
      publicKey: pair.publicKey,
      signingKey: ca.signer.privateKey,
      signingAlgorithm: ca.signer.algorithm,
      notBefore,
      notAfter,
      extensions,
    },
    webcrypto,
  )
  const pem = pemOf(certificate)
  const der = Buffer.from(certificate.rawData)
  return {
    spiffeId,
    certificate: pem,
    der,
    key: await pkcs8Pem(pair.privateKey),
    chain: pem + ca.intermediates,
    bundle: ca.bundle,
    x5tS256: x5tS256(der),
    notBefore,
    notAfter,
  }
}
