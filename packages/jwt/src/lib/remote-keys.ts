import { ZeroTrustError } from '@zerotrust/core'
import { retryAfterSeconds } from '@zerotrust/core/layer'
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose'
import type { JwtAlgorithm } from './algorithms.js'
import { type FetchSettings, fetchJsonObject, unavailable } from './fetch-json.js'

/** Timing of a remote key set. */
export interface RemoteKeySettings extends FetchSettings {
  /** Least milliseconds between the starts of two refetches made for unknown `kid`s. */
  readonly cooldown: number
  /**
   * Longest milliseconds a token with an unknown `kid` waits for the next permitted refetch to start;
   * when that is further away, the answer is 503 with `Retry-After`, never 401.
   */
  readonly maxKeyWait: number
  /** Milliseconds after which keys are refreshed in the background (they keep serving meanwhile). */
  readonly maxAge: number
  /**
   * Milliseconds after the last successful fetch past which its keys stop verifying, however refreshes
   * fail; at least `maxAge`.
   */
  readonly maxStale: number
  /** The pinned algorithms: a fetched set with no key usable for one of them counts as a failed fetch. */
  readonly algorithms: readonly JwtAlgorithm[]
}

// After a failed fetch ends, wait this long before the next attempt, so an outage is not a fetch storm.
const failureBackoff = 1000

interface Fetch {
  /** Its place among the fetches started, from 1: a later fetch has a larger one. */
  readonly seq: number
  readonly done: Promise<void>
}

/**
 * The keys of one issuer, fetched from its JWKS URL (found by discovery when not configured):
 * - concurrent requests share one fetch;
 * - a token with an unknown `kid` waits (with every other such token) for a fetch that started after it
 *   arrived, and only a `kid` still unknown then is refused as `unknown_key`: a key the issuer has just
 *   published is never refused; such fetches start at most once per `cooldown`, so random `kid`s cost
 *   the issuer one fetch per cooldown; when the next permitted fetch is further away than `maxKeyWait`,
 *   or the issuer is failing, the answer is 503 with `Retry-After`, never 401;
 * - a fetched set with no key usable for the pinned algorithms (`{"keys":[]}`) is a failed fetch: the
 *   last good keys keep serving;
 * - after a failed fetch the next waits a second from its end, so an outage (or a hanging issuer) is not
 *   a fetch storm;
 * - keys older than `maxAge` are refreshed in the background and keep serving meanwhile and while the
 *   issuer is down: a key removed from the JWKS verifies new tokens until that refresh ends;
 * - keys older than `maxStale` (the issuer down, or answering sets with no usable key, since) stop
 *   verifying: each token waits for a fetch (one shared, at most one a second), and while none succeeds
 *   the answer is 503 `jwks_stale` with `Retry-After`, never a 401, and never the old keys: someone able
 *   to break the JWKS fetch cannot keep a removed key alive;
 * - with no usable key and an unreachable issuer, verification fails as `dependency_unavailable`
 *   (503), never as an invalid token.
 */
export class RemoteKeySet {
  readonly #resolveUrl: () => Promise<URL>
  readonly #settings: RemoteKeySettings
  #url: URL | undefined
  #keys: JWTVerifyGetKey | undefined
  /** How many fetches have started; a token remembers the count when it arrives. */
  #started = 0
  /** The `seq` of the fetch that brought the current keys, and when it ended. */
  #keysFrom = 0
  #fetchedAt = Number.NEGATIVE_INFINITY
  /** When the last fetch ended, if it failed; `undefined` after a success. */
  #failedAt: number | undefined
  /**
   * What the last failed fetch threw. The backoff answers with its reason and cause, so a request during
   * the backoff reports what failed (`discovery_timeout`, cause `dns`…), not a generic reason.
   */
  #failure: ZeroTrustError | undefined
  #inFlight: Fetch | undefined
  /** The refetch that unknown `kid`s wait for while the cooldown runs. */
  #scheduled: Promise<void> | undefined
  /** When the last refetch made for an unknown `kid` started. */
  #unknownKidAt = Number.NEGATIVE_INFINITY
  #generation = 0

  constructor(resolveUrl: () => Promise<URL>, settings: RemoteKeySettings) {
    this.#resolveUrl = resolveUrl
    this.#settings = settings
  }

  /** A jose key resolver over this set. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    // Counting fetches, not reading a clock, orders "started after the token arrived" exactly.
    const arrived = this.#started
    if (this.#keys === undefined) await this.#firstKeys()
    else if (this.#stale(performance.now())) await this.#freshKeys()
    else this.touch()
    return (await this.#lookup(header, token)) ?? this.#unknownKey(header, token, arrived)
  }

  /**
   * Changes after every successful fetch, and when the keys pass `maxStale`: keys remembered from them
   * (`MemoizedKeys`) must not serve, so every token comes back through {@link getKey}.
   */
  generation(): number {
    return this.#stale(performance.now()) ? -1 : this.#generation
  }

  /** Starts a background refresh when the keys are older than `maxAge`; they keep serving meanwhile. */
  touch(): void {
    const now = performance.now()
    if (
      now - this.#fetchedAt > this.#settings.maxAge &&
      this.#inFlight === undefined &&
      !this.#backingOff(now)
    ) {
      this.#start().done.catch(() => {})
    }
  }

  async #firstKeys(): Promise<void> {
    if (this.#inFlight === undefined && this.#backingOff(performance.now())) throw this.#failed()
    await this.#start().done
  }

  /**
   * Keys past `maxStale` are refused until a fetch succeeds: one fetch shared by every waiting token, and
   * after a failed one the usual backoff, so an outage costs the issuer at most one fetch a second.
   */
  async #freshKeys(): Promise<void> {
    if (this.#inFlight === undefined && this.#backingOff(performance.now())) {
      throw this.#unavailable('jwks_stale', this.#failure?.cause)
    }
    try {
      await this.#start().done
    } catch (error) {
      throw this.#unavailable('jwks_stale', error)
    }
  }

  /** Whether the keys are older than `maxStale`; keys never fetched are not stale but absent. */
  #stale(now: number): boolean {
    return this.#keys !== undefined && now - this.#fetchedAt > this.#settings.maxStale
  }

  /** The key for a token, or `undefined` when the current set has none for its `kid`. */
  async #lookup(...args: Parameters<JWTVerifyGetKey>): Promise<Key | undefined> {
    // A token that waited for a refetch may find the keys past `maxStale` when it ends.
    if (this.#stale(performance.now())) throw this.#unavailable('jwks_stale')
    try {
      return await (this.#keys as JWTVerifyGetKey)(...args)
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_JWKS_NO_MATCHING_KEY') return undefined
      throw error
    }
  }

  /**
   * A `kid` the current set lacks may be new (rotation): any fetch in flight may bring it, and only a
   * fetch that started after the token arrived can tell that it does not exist. Ends within
   * `maxKeyWait` plus one fetch (bounded by `timeout`).
   */
  async #unknownKey(header: KeyHeader, token: KeyToken, arrived: number): Promise<Key> {
    for (;;) {
      // Keys fetched after the token arrived decide: its key, or jose's "no matching key" (401).
      if (this.#keysFrom > arrived) return (this.#keys as JWTVerifyGetKey)(header, token)
      const inFlight = this.#inFlight
      if (inFlight !== undefined) await inFlight.done.catch(() => {})
      else await this.#refetch()
      const found = await this.#lookup(header, token)
      if (found !== undefined) return found
    }
  }

  /** Waits for a refetch that starts now or at the end of the cooldown; 503 when it cannot be had. */
  #refetch(): Promise<void> {
    const now = performance.now()
    if (this.#backingOff(now)) throw this.#failed()
    // A scheduled refetch starts in the future, so after this token arrived.
    if (this.#scheduled !== undefined) return this.#scheduled
    const wait = this.#unknownKidAt + this.#settings.cooldown - now
    if (wait <= 0) {
      this.#unknownKidAt = now
      return this.#start().done
    }
    // Holding requests for an issuer that just failed would only delay the same 503.
    if (this.#failedAt !== undefined || wait > this.#settings.maxKeyWait) {
      const failure = this.#failure
      throw unavailable(
        failure?.reason ?? (this.#failedAt !== undefined ? 'jwks_unavailable' : 'jwks_cooldown'),
        failure?.cause,
        retryAfterSeconds(wait),
      )
    }
    // Unref'd: a scheduled refetch must not hold a shutting-down process open.
    this.#scheduled = new Promise<void>((resolve) => setTimeout(resolve, wait).unref()).then(async () => {
      this.#scheduled = undefined
      // A fetch still in flight may have started before some of the waiters arrived: let it end.
      await this.#inFlight?.done.catch(() => {})
      if (this.#backingOff(performance.now())) throw this.#failed()
      this.#unknownKidAt = performance.now()
      return this.#start().done
    })
    return this.#scheduled
  }

  /** The fetch in flight, or a new one. */
  #start(): Fetch {
    if (this.#inFlight !== undefined) return this.#inFlight
    const seq = ++this.#started
    const done = this.#load(seq).finally(() => {
      this.#inFlight = undefined
    })
    this.#inFlight = { seq, done }
    return this.#inFlight
  }

  async #load(seq: number): Promise<void> {
    try {
      this.#url ??= await this.#resolveUrl()
      const document = await fetchJsonObject(this.#url, this.#settings, 'jwks')
      const jwks = publicSigningKeys(document)
      // An empty or unusable set would turn every valid token into a 401: keep the last good keys.
      if (!jwks.keys.some((key) => usableKey(key, this.#settings.algorithms))) {
        throw unavailable('jwks_no_usable_keys')
      }
      this.#keys = createLocalJWKSet(jwks)
      this.#keysFrom = seq
      this.#fetchedAt = performance.now()
      this.#failedAt = undefined
      this.#failure = undefined
      this.#generation++
    } catch (error) {
      // The backoff runs from the end of the fetch: a fetch that hung until its timeout has used none of it.
      this.#failedAt = performance.now()
      this.#failure = error instanceof ZeroTrustError ? error : unavailable('jwks_invalid', error)
      throw this.#failure
    }
  }

  #backingOff(now: number): boolean {
    return this.#failedAt !== undefined && now - this.#failedAt < failureBackoff
  }

  /** The 503 of a request during the backoff: the failed step's reason and cause, kept until it ends. */
  #failed(): ZeroTrustError {
    return this.#unavailable(this.#failure?.reason ?? 'jwks_unavailable', this.#failure?.cause)
  }

  #unavailable(reason: string, cause?: unknown): ZeroTrustError {
    const left = failureBackoff - (performance.now() - (this.#failedAt ?? 0))
    return unavailable(reason, cause, retryAfterSeconds(left))
  }
}

type Key = Awaited<ReturnType<JWTVerifyGetKey>>
type KeyHeader = Parameters<JWTVerifyGetKey>[0]
type KeyToken = Parameters<JWTVerifyGetKey>[1]

// The curve each algorithm requires, as jose matches them (RFC 7518 §3.4, RFC 8037 §3.1).
const curves: Readonly<Record<string, string>> = {
  ES256: 'P-256',
  ES384: 'P-384',
  ES512: 'P-521',
  EdDSA: 'Ed25519',
  Ed25519: 'Ed25519',
}

/** Whether jose could pick this JWKS member for one of the algorithms (`kid` aside). */
function usableKey(key: JSONWebKeySet['keys'][number], algorithms: readonly JwtAlgorithm[]): boolean {
  const { use, key_ops: ops, alg } = key
  if (use !== undefined && use !== 'sig') return false
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) return false
  return algorithms.some((candidate) => {
    if (alg !== undefined && alg !== candidate) return false
    if (candidate.startsWith('RS') || candidate.startsWith('PS')) return key.kty === 'RSA'
    if (candidate.startsWith('ES')) return key.kty === 'EC' && key.crv === curves[candidate]
    return key.kty === 'OKP' && key.crv === curves[candidate]
  })
}

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

/**
 * The members of a JWKS usable to verify signatures: private and symmetric keys are dropped, so a
 * leaked private key or an `oct` key in the set can never be used as a verification secret, and so are
 * RSA keys under 2048 bits (RFC 7518 §3.3), which jose refuses at verification time.
 */
export function publicSigningKeys(document: Record<string, unknown>): JSONWebKeySet {
  const keys = document.keys
  if (!Array.isArray(keys)) throw unavailable('jwks_invalid', new Error('"keys" is not an array'))
  return {
    keys: keys.filter(
      (key): key is JSONWebKeySet['keys'][number] =>
        typeof key === 'object' &&
        key !== null &&
        typeof (key as { kty?: unknown }).kty === 'string' &&
        (key as { kty: string }).kty !== 'oct' &&
        privateMembers.every((member) => !Object.hasOwn(key, member)) &&
        !weakRsa(key as { kty: string; n?: unknown }),
    ),
  }
}

// RFC 7518 §3.3: RSA keys of 2048 bits or more; the modulus `n` is base64url, 4 characters per 3 bytes.
function weakRsa(key: { kty: string; n?: unknown }): boolean {
  return key.kty === 'RSA' && (typeof key.n !== 'string' || Math.floor((key.n.length * 3) / 4) < 256)
}
