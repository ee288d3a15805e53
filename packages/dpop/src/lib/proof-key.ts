import {
  constants,
  createHash,
  createPublicKey,
  type KeyObject,
  verify as nodeVerify,
  type VerifyKeyObjectInput,
} from 'node:crypto'
import { isCanonicalBase64url } from '@zerotrust/core/layer'

/** The JWS algorithms a DPoP proof may use: asymmetric only (RFC 9449 §4.3 check 5). */
export const dpopAlgorithms = [
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
] as const

/** An asymmetric JWS algorithm accepted for DPoP proofs. */
export type DpopAlgorithm = (typeof dpopAlgorithms)[number]

/** A proof key ready to verify signatures, with the RFC 7638 thumbprint the token's `cnf.jkt` names. */
export interface ProofKey {
  readonly thumbprint: string
  /** Which algorithms this key can verify: its type and curve decide. */
  readonly kind: 'EC-P-256' | 'EC-P-384' | 'EC-P-521' | 'OKP-Ed25519' | 'OKP-Ed448' | 'RSA'
  readonly key: KeyObject
}

/** Why a `jwk` header cannot be a proof key. */
export type ProofKeyProblem = 'jwk' | 'private_key' | 'weak_key'

const base64url = /^[A-Za-z0-9_-]+$/
// Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
// Coordinate lengths in base64url characters, so a short or padded point is refused before import.
const curveLengths: Record<string, number> = { 'P-256': 43, 'P-384': 64, 'P-521': 88 }
const okpLengths: Record<string, number> = { Ed25519: 43, Ed448: 76 }

/**
 * Checks a proof's `jwk` header and computes its RFC 7638 thumbprint synchronously: the canonical JSON of
 * the required members only, in lexicographic order, hashed with SHA-256.
 *
 * @returns the thumbprint and the canonical members, or the problem that refuses the key
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3.2
 */
export function readProofJwk(
  jwk: unknown,
): { thumbprint: string; members: Record<string, string>; kind: ProofKey['kind'] } | ProofKeyProblem {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'jwk'
  const record = jwk as Record<string, unknown>
  for (const member of privateMembers) if (member in record) return 'private_key'
  const { kty } = record
  let canonical: string
  let members: Record<string, string>
  let kind: ProofKey['kind']
  if (kty === 'EC') {
    const { crv, x, y } = record
    if (
      typeof crv !== 'string' ||
      !isCoordinate(x, curveLengths[crv]) ||
      !isCoordinate(y, curveLengths[crv])
    ) {
      return 'jwk'
    }
    canonical = `{"crv":"${crv}","kty":"EC","x":"${x}","y":"${y}"}`
    members = { kty, crv, x, y }
    kind = `EC-${crv}` as ProofKey['kind']
  } else if (kty === 'OKP') {
    const { crv, x } = record
    if (typeof crv !== 'string' || !isCoordinate(x, okpLengths[crv])) return 'jwk'
    canonical = `{"crv":"${crv}","kty":"OKP","x":"${x}"}`
    members = { kty, crv, x }
    kind = `OKP-${crv}` as ProofKey['kind']
  } else if (kty === 'RSA') {
    const { e, n } = record
    if (typeof e !== 'string' || typeof n !== 'string' || n.length > 1366 || !base64url.test(e)) return 'jwk'
    // One spelling per key (issue 12): a modulus with non-zero unused bits decodes to the same key.
    // A public exponent of 1 (or any even one) makes "signatures" anyone can compute: only a canonical
    // odd exponent of at least 3, without leading zero bytes, is a key (RFC 8017 §3.1).
    if (!isRsaExponent(e)) return 'weak_key'
    // RFC 7518 §3.3 asks for 2048 bits at least: 256 bytes are 342 base64url characters.
    if (n.length < 342) return 'weak_key'
    if (!isCanonicalBase64url(n)) return 'jwk'
    canonical = `{"e":"${e}","kty":"RSA","n":"${n}"}`
    members = { kty, e, n }
    kind = 'RSA'
  } else {
    return 'jwk'
  }
  // Every member was checked against the base64url alphabet or a fixed name, so the canonical JSON
  // above needs no escaping.
  const thumbprint = createHash('sha256').update(canonical).digest('base64url')
  return { thumbprint, members, kind }
}

function isRsaExponent(e: string): boolean {
  if (e.length > 8) return false
  const bytes = Buffer.from(e, 'base64url')
  if (bytes.length === 0 || bytes[0] === 0 || bytes.toString('base64url') !== e) return false
  const value = bytes.readUIntBE(0, bytes.length)
  return value >= 3 && value % 2 === 1
}

function isCoordinate(value: unknown, length: number | undefined): value is string {
  // Canonical (issue 12): a coordinate with non-zero unused bits decodes to the same point under another
  // spelling, and so another thumbprint.
  return (
    typeof value === 'string' &&
    length !== undefined &&
    value.length === length &&
    isCanonicalBase64url(value)
  )
}

/**
 * Imports a checked proof key; `undefined` when Node refuses it (a point off the curve, say).
 */
export function importProofKey(
  thumbprint: string,
  members: Record<string, string>,
  kind: ProofKey['kind'],
): ProofKey | undefined {
  try {
    const key = createPublicKey({ key: members, format: 'jwk' })
    if (kind === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return undefined
    return { thumbprint, kind, key }
  } catch {
    return undefined
  }
}

/** Whether `alg` may be verified with a key of `kind` (RFC 7518 §3.1, RFC 8037, RFC 9864). */
export function algorithmFits(alg: DpopAlgorithm, kind: ProofKey['kind']): boolean {
  switch (alg) {
    case 'ES256':
      return kind === 'EC-P-256'
    case 'ES384':
      return kind === 'EC-P-384'
    case 'ES512':
      return kind === 'EC-P-521'
    case 'EdDSA':
      return kind === 'OKP-Ed25519' || kind === 'OKP-Ed448'
    case 'Ed25519':
      return kind === 'OKP-Ed25519'
    default:
      return kind === 'RSA'
  }
}

const signatureLengths: Partial<Record<DpopAlgorithm, number>> = { ES256: 64, ES384: 96, ES512: 132 }

/**
 * Verifies a JWS signature over `signingInput` synchronously with `node:crypto`.
 */
export function verifySignature(
  alg: DpopAlgorithm,
  proofKey: ProofKey,
  signingInput: Buffer,
  signature: Buffer,
): boolean {
  const expectedLength = signatureLengths[alg]
  if (expectedLength !== undefined && signature.length !== expectedLength) return false
  const { key } = proofKey
  let input: VerifyKeyObjectInput
  let digest: string | null
  switch (alg) {
    case 'ES256':
    case 'ES384':
    case 'ES512':
      input = { key, dsaEncoding: 'ieee-p1363' }
      digest = `sha${alg.slice(2)}`
      break
    case 'EdDSA':
    case 'Ed25519':
      return cryptoVerify(null, signingInput, key, signature)
    case 'PS256':
    case 'PS384':
    case 'PS512':
      input = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
      digest = `sha${alg.slice(2)}`
      break
    default:
      input = { key, padding: constants.RSA_PKCS1_PADDING }
      digest = `sha${alg.slice(2)}`
  }
  return cryptoVerify(digest, signingInput, input, signature)
}

function cryptoVerify(
  digest: string | null,
  data: Buffer,
  key: KeyObject | VerifyKeyObjectInput,
  signature: Buffer,
): boolean {
  try {
    return nodeVerify(digest, data, key, signature)
  } catch {
    return false
  }
}
