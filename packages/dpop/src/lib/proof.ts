import { isCanonicalBase64url } from '@zerotrust/core/layer'
import { LRUCache } from 'lru-cache'
import {
  algorithmFits,
  type DpopAlgorithm,
  importProofKey,
  type ProofKey,
  readProofJwk,
  verifySignature,
} from './proof-key.js'

/** The claims of a proof that passed the checks that need no request state. */
export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof key. */
  readonly thumbprint: string
  readonly jti: string
  readonly htm: string
  readonly htu: string
  readonly iat: number
  readonly ath: string | undefined
  readonly nonce: string | undefined
}

/** Why a proof is refused: the `reason` of the `invalid_dpop_proof` error. */
export type ProofProblem =
  | 'malformed_proof'
  | 'typ'
  | 'alg'
  | 'crit'
  | 'jwk'
  | 'private_key'
  | 'weak_key'
  | 'signature'
  | 'missing_claim'

const typs = new Set(['dpop+jwt', 'application/dpop+jwt'])
const maxJtiLength = 256
const maxHtuLength = 4096

/**
 * Checks a proof's form, header and signature (RFC 9449 §4.3 checks 2–6) and reads its claims. The key
 * of a thumbprint is imported once and kept, so a client's later proofs cost one signature check.
 */
export class ProofVerifier {
  readonly #algorithms: ReadonlySet<DpopAlgorithm>
  // Bounded: forgetting a key or a header only costs its client one more import.
  readonly #keys: LRUCache<string, ProofKey>
  readonly #headers: LRUCache<string, CheckedHeader>

  constructor(algorithms: ReadonlySet<DpopAlgorithm>, maxKeys: number) {
    this.#algorithms = algorithms
    this.#keys = new LRUCache({ max: maxKeys })
    this.#headers = new LRUCache({ max: maxKeys })
  }

  verify(proof: string): VerifiedProof | ProofProblem {
    const first = proof.indexOf('.')
    const second = first === -1 ? -1 : proof.indexOf('.', first + 1)
    if (second === -1 || proof.indexOf('.', second + 1) !== -1) return 'malformed_proof'
    const headerPart = proof.slice(0, first)
    const payloadPart = proof.slice(first + 1, second)
    const signaturePart = proof.slice(second + 1)
    // Each segment non-empty and in its one canonical base64url spelling (RFC 7515 §2; RFC 4648 §3.5:
    // zero unused trailing bits), so one proof cannot be re-spelt into other strings that verify alike.
    // The caller bounded the proof's length (`maxProofLength`); the check is linear and uses no regex.
    if (!segment(headerPart) || !segment(payloadPart) || !segment(signaturePart)) return 'malformed_proof'

    // A client's proofs all carry the same protected header (same typ, alg and jwk), so the header's
    // checks and its imported key are kept by the header's exact text: a later proof skips decoding,
    // hashing and importing, and pays for its signature only.
    let checked = this.#headers.get(headerPart)
    if (checked === undefined) {
      const fresh = this.#checkHeader(headerPart)
      if (typeof fresh === 'string') return fresh
      checked = fresh
      this.#headers.set(headerPart, checked)
    }
    const signingInput = Buffer.from(proof.slice(0, second), 'latin1')
    const signature = Buffer.from(signaturePart, 'base64url')
    if (!verifySignature(checked.alg, checked.key, signingInput, signature)) return 'signature'

    const payload = decodeObject(payloadPart)
    if (payload === undefined) return 'malformed_proof'
    const { jti, htm, htu, iat, ath, nonce } = payload
    if (
      typeof jti !== 'string' ||
      jti.length === 0 ||
      jti.length > maxJtiLength ||
      typeof htm !== 'string' ||
      typeof htu !== 'string' ||
      htu.length > maxHtuLength ||
      typeof iat !== 'number' ||
      !Number.isFinite(iat) ||
      (ath !== undefined && typeof ath !== 'string') ||
      (nonce !== undefined && typeof nonce !== 'string')
    ) {
      return 'missing_claim'
    }
    return { thumbprint: checked.key.thumbprint, jti, htm, htu, iat, ath, nonce }
  }

  #checkHeader(headerPart: string): CheckedHeader | ProofProblem {
    const header = decodeObject(headerPart)
    if (header === undefined) return 'malformed_proof'
    const { typ, alg } = header
    if (typeof typ !== 'string' || !typs.has(typ.toLowerCase())) return 'typ'
    if (typeof alg !== 'string' || !this.#algorithms.has(alg as DpopAlgorithm)) return 'alg'
    // RFC 7515 §4.1.11: no extension is understood here, so any `crit` refuses the proof.
    if (header.crit !== undefined) return 'crit'
    const key = this.#key(header.jwk)
    if (typeof key === 'string') return key
    if (!algorithmFits(alg as DpopAlgorithm, key.kind)) return 'alg'
    return { alg: alg as DpopAlgorithm, key }
  }

  #key(jwk: unknown): ProofKey | 'jwk' | 'private_key' | 'weak_key' {
    const read = readProofJwk(jwk)
    if (typeof read === 'string') return read
    const cached = this.#keys.get(read.thumbprint)
    if (cached !== undefined) return cached
    const key = importProofKey(read.thumbprint, read.members, read.kind)
    if (key === undefined) return 'jwk'
    this.#keys.set(read.thumbprint, key)
    return key
  }
}

function segment(part: string): boolean {
  return part.length > 0 && isCanonicalBase64url(part)
}

/** A protected header that passed its checks, with its imported key. */
interface CheckedHeader {
  readonly alg: DpopAlgorithm
  readonly key: ProofKey
}

function decodeObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
