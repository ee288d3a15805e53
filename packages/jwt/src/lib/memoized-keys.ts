import { isZeroTrustError, ZeroTrustError } from '@zerotrust/core'
import { decodeProtectedHeader, type JWTVerifyGetKey } from 'jose'

type Key = Awaited<ReturnType<JWTVerifyGetKey>>

/** Where an issuer's keys come from, for {@link MemoizedKeys}. */
export interface KeySource {
  readonly getKey: JWTVerifyGetKey
  /** Changes whenever the set of keys changes; keys remembered from an older generation are dropped. */
  generation(): number
  /** Called when a remembered key serves, so that a stale set still refreshes in the background. */
  touch(): void
}

/**
 * Remembers the key a source resolved for each (`alg`, `kid`) pair, so that verifying the next token with
 * that pair hands jose the key itself: jose's key-resolver path costs about 15 µs more per verification
 * than a key object, most of it in scheduling (benchmarks/RESULTS.md). The first token of a pair, and
 * every token after the keys change, goes through the source as before, with its rotation, cooldown and
 * error rules. Entries only come from successful resolutions, so their number is bounded by the key set.
 */
export class MemoizedKeys {
  readonly #source: KeySource
  readonly #keys = new Map<string, Key>()
  #generation: number

  constructor(source: KeySource) {
    this.#source = source
    this.#generation = source.generation()
  }

  /** The remembered key for this token's (`alg`, `kid`), or a resolver that remembers what it finds. */
  keyFor(token: string): Key | JWTVerifyGetKey {
    let header: { readonly alg?: unknown; readonly kid?: unknown }
    try {
      header = decodeProtectedHeader(token)
    } catch {
      // Malformed: jose reports it with its own error code from the usual path.
      return this.#source.getKey
    }
    const { alg, kid } = header
    if (typeof alg !== 'string' || (kid !== undefined && typeof kid !== 'string')) return this.#source.getKey
    const generation = this.#source.generation()
    if (generation !== this.#generation) {
      this.#keys.clear()
      this.#generation = generation
    }
    const id = `${alg}\n${kid ?? ''}`
    const known = this.#keys.get(id)
    if (known !== undefined) {
      this.#source.touch()
      return known
    }
    return async (protectedHeader, token) => {
      let key: Key
      try {
        key = await this.#source.getKey(protectedHeader, token)
      } catch (error) {
        throw unusableKey(error)
      }
      if (this.#source.generation() === generation) this.#keys.set(id, key)
      return key
    }
  }
}

/**
 * A key that the issuer published but that cannot be imported (a malformed JWK, an RSA key under 2048
 * bits) is the issuer's fault, not the client's: 503, like any key we cannot check. jose's own errors
 * (no matching key, unsupported algorithm) pass through to be translated by their codes.
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
