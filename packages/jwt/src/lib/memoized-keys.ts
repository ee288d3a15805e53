import { isZeroTrustError, ZeroTrustError } from '@zerotrust/core'
import type { CompactJWSHeaderParameters, JWTVerifyGetKey } from 'jose'
import { type CompactJws, flattened, type JoseHeader } from './jws.js'
import { type SignatureKey, signatureKey } from './signature.js'

/** Where an issuer's keys come from, for {@link MemoizedKeys}. */
export interface KeySource {
  /** jose's key selection: the JWKS member for a token's `alg` and `kid`, imported once by jose. */
  readonly getKey: JWTVerifyGetKey
  /** Changes whenever the set of keys changes; keys remembered from an older generation are dropped. */
  generation(): number
  /** Called when a remembered key serves, so that a stale set still refreshes in the background. */
  touch(): void
}

/**
 * Remembers, for each (`alg`, `kid`) pair, the key jose selected from the issuer's JWKS, as a
 * node:crypto `KeyObject` ready for that algorithm (lib/signature.ts): after the first token of a pair,
 * finding the key is a map lookup and checking a signature is one `crypto.verify`. The first token of a
 * pair, and every token after the keys change, goes through jose's selection as before, with the key set's
 * rotation, cooldown and error rules. Entries only come from successful selections, so their number is
 * bounded by the key set, and they are all dropped when its generation changes (a fetch, or keys past
 * `maxStale`).
 */
export class MemoizedKeys {
  readonly #source: KeySource
  readonly #keys = new Map<string, SignatureKey>()
  #generation: number

  constructor(source: KeySource) {
    this.#source = source
    this.#generation = source.generation()
  }

  /**
   * The source's generation: changes after every successful fetch of the keys and when they pass
   * `maxStale`, so a token verified under an older one must be verified again.
   */
  generation(): number {
    return this.#source.generation()
  }

  /** The key for this token's (`alg`, `kid`): remembered, or selected by the source and then remembered. */
  keyFor(header: JoseHeader, jws: CompactJws): SignatureKey | Promise<SignatureKey> {
    const { alg, kid } = header
    // jose matches no JWKS member to a `kid` that is not a string; the source says so in its own terms.
    if (kid !== undefined && typeof kid !== 'string') return this.#select(header, jws, undefined, 0)
    const generation = this.#source.generation()
    if (generation !== this.#generation) {
      this.#keys.clear()
      this.#generation = generation
    }
    // Without a `kid` jose takes the one member usable for `alg`; with `kid: ""` only a member with that
    // very `kid`: two different selections, two different entries.
    const id = kid === undefined ? alg : `${alg}\n${kid}`
    const known = this.#keys.get(id)
    if (known !== undefined) {
      this.#source.touch()
      return known
    }
    return this.#select(header, jws, id, generation)
  }

  async #select(
    header: JoseHeader,
    jws: CompactJws,
    id: string | undefined,
    generation: number,
  ): Promise<SignatureKey> {
    let key: SignatureKey
    try {
      const selected = await this.#source.getKey(header as CompactJWSHeaderParameters, flattened(jws))
      key = signatureKey(header.alg, selected)
    } catch (error) {
      throw unusableKey(error)
    }
    if (id !== undefined && this.#source.generation() === generation) this.#keys.set(id, key)
    return key
  }
}

/**
 * A key that the issuer published but that cannot be imported (a malformed JWK) is the issuer's fault, not
 * the client's: 503, like any key we cannot check. jose's own errors (no matching key, unsupported
 * algorithm) pass through to be translated by their codes.
 */
function unusableKey(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code
  if (isZeroTrustError(error) || (typeof code === 'string' && /^ERR_J(OSE|WKS?|WS|WT|WE)_/.test(code)))
    return error
  return new ZeroTrustError('dependency_unavailable', "the token issuer's keys are unusable", {
    reason: 'jwks_invalid',
    cause: error,
  })
}
