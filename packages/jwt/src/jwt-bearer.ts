import { type Auth, type Authenticator, type RequestLike, ZeroTrustError } from '@zerotrust/core'
import {
  bearerChallenges,
  checkBinding,
  recordPresentedToken,
  takeCredentials,
  type VerifyOptions,
} from '@zerotrust/core/layer'
import { createLocalJWKSet, type JWTPayload } from 'jose'
import { LRUCache } from 'lru-cache'
import { claimCheck } from './lib/claims.js'
import { discoverJwksUri } from './lib/discovery.js'
import {
  type CompactJws,
  compactJws,
  HeaderReader,
  type JoseHeader,
  type ReadHeader,
  readPayload,
  signatureOf,
  signingInput,
} from './lib/jws.js'
import { MemoizedKeys } from './lib/memoized-keys.js'
import { type JwtBearerOptions, type JwtBearerSettings, jwtBearerSettings } from './lib/options.js'
import { publicSigningKeys, RemoteKeySet } from './lib/remote-keys.js'
import { SecretKeys } from './lib/secret-keys.js'
import type { SignatureKey } from './lib/signature.js'
import { toAuth } from './lib/to-auth.js'
import { invalidToken, translateError, unexpectedClaim } from './lib/translate-error.js'

/** An authenticator of JWT access tokens; {@link JwtBearer.verify} checks a bare token. */
export interface JwtBearer extends Authenticator {
  readonly layer: 'jwt'
  /**
   * Verifies one access token (size, syntax, signature, algorithm, issuer, audience, times, `typ`,
   * required claims) without reading a request, for tokens that arrive another way (a WebSocket
   * message). A token bound to a key or a certificate (`cnf`) is refused, since there is no proof or
   * connection to check it against, unless the caller says it checks the binding itself (`dpop()` does).
   * Served from the cache when it holds the token.
   */
  verify(token: string, options?: VerifyOptions): Promise<Auth>
  /** The longest token accepted, in characters (`maxTokenLength`): `dpop()` bounds its credential by it. */
  readonly maxTokenLength: number
}

/** Where the keys of one issuer come from: its JWKS (through jose's selection) or a shared secret. */
interface Keys {
  keyFor(header: JoseHeader, jws: CompactJws): SignatureKey | Promise<SignatureKey>
  /** Changes when the keys change (a fetch) or pass `maxStale`; see {@link MemoizedKeys.generation}. */
  generation(): number
}

interface CacheEntry {
  /** The whole token: the entry serves only this exact string. */
  readonly token: string
  readonly auth: Auth
  /** Milliseconds since the epoch after which the entry must not serve. */
  readonly expiresAt: number
  /** The issuer's keys, and their generation when the token was verified: a later one re-verifies it. */
  readonly keys: Keys
  readonly generation: number
}

/**
 * Verifies JWT access tokens: pinned algorithms, keys only from the issuer's JWKS (discovered and
 * cached; imported and selected by jose), signatures checked with node:crypto on a `KeyObject` kept per
 * key, exact `iss`, `aud`, `exp`/`nbf`/`iat` with a small tolerance, `typ: at+jwt` and the RFC 9068
 * claims by default, and a bounded cache of verified tokens so that a repeated token costs a map lookup.
 *
 * `jku`, `x5u`, `x5c` and an embedded `jwk` in a token header are never used to find keys, and `kid` is
 * only compared. A token bound to a DPoP key (`cnf.jkt`) is refused here (RFC 9449 §7.2); a token bound
 * to a client certificate (`cnf["x5t#S256"]`) must come over that certificate (RFC 8705 §3).
 *
 * @example
 * const tokens = jwtBearer({
 *   issuer: 'https://idp.example.com/',
 *   audience: 'api://orders',
 *   algorithms: ['ES256'],
 * })
 * app.use(authenticate(tokens))
 * @throws TypeError naming the option when an option is invalid
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */
export function jwtBearer(options: JwtBearerOptions): JwtBearer {
  const o = jwtBearerSettings(options)
  const challenges = bearerChallenges(o.realm)
  const readOptions = { schemes: ['Bearer'] as const, maxTokenLength: o.maxTokenLength, challenges }
  const keysByIssuer = keySources(o)
  const single = o.issuers.length === 1 ? (o.issuers[0] as string) : undefined
  const cache =
    o.cache === undefined
      ? undefined
      : new LRUCache<string, CacheEntry>({ max: o.cache.max, ttlAutopurge: false })
  const headers = new HeaderReader(new Set(o.algorithms))
  const checkClaims = claimCheck(o)

  /**
   * RFC 7515 §5.2 and RFC 7519 §7.2, in jose's order (the test src/verify-equivalence.test.ts holds the
   * two to the same answers): the header, the key jose selects for it, the signature with node:crypto,
   * the claims. jose's jwtVerify checks signatures through WebCrypto, whose every check is a round trip to
   * libuv's thread pool: 2–5× the cost of node:crypto's `crypto.verify` with a `KeyObject` on this path
   * (benchmarks/RESULTS.md, issue 14).
   *
   * The Auth itself when the key is remembered (the usual token: the signature check is synchronous, see
   * lib/signature.ts), a promise when a key must be fetched or a secret read; a refusal is thrown or
   * rejected, translated.
   */
  function verifyFresh(jws: CompactJws | undefined): Auth | Promise<Auth> {
    try {
      const auth = verifyToken(jws)
      return auth instanceof Promise ? auth.catch(translated) : auth
    } catch (error) {
      throw translateError(error, challenges)
    }
  }

  function translated(error: unknown): never {
    throw translateError(error, challenges)
  }

  function verifyToken(jws: CompactJws | undefined): Auth | Promise<Auth> {
    // Not three segments: not a compact JWS, which jose refuses as malformed.
    if (jws === undefined) throw invalidToken('malformed')
    // With several issuers the unverified `iss` only picks the key set; the claims must then name that
    // very issuer, and the signature covers them.
    const payload = single === undefined ? readPayload(jws) : undefined
    const issuer = single ?? pickIssuer(payload as Record<string, unknown>)
    const header = headers.read(jws)
    const keys = keysByIssuer.get(issuer) as Keys
    const key = keys.keyFor(header.header, jws)
    return key instanceof Promise
      ? key.then((found) => accept(jws, header, found, keys, issuer, payload))
      : accept(jws, header, key, keys, issuer, payload)
  }

  function accept(
    jws: CompactJws,
    { header, b64 }: ReadHeader,
    key: SignatureKey,
    keys: Keys,
    issuer: string,
    payload: Record<string, unknown> | undefined,
  ): Auth {
    if (!key.verify(signingInput(jws), signatureOf(jws))) throw invalidToken('signature')
    // RFC 7797 §7: a JWT's payload is always base64url-encoded; jose refuses `b64: false` after the
    // signature, and so does this.
    if (!b64) throw invalidToken('malformed')
    const claims = payload ?? readPayload(jws)
    checkClaims(header, claims, issuer)
    const auth = toAuth(claims as JWTPayload, 'Bearer')
    // Out of sight, for an RFC 8693 exchange at the edge (`presentedToken`); a cache hit keeps this Auth.
    recordPresentedToken(auth, jws.token)
    if (cache !== undefined) {
      const expiresAt = cacheUntil(claims, o)
      const ttl = expiresAt - Date.now()
      if (ttl > 0) {
        // The generation after the key was found: a refetch that brought it is the one it belongs to.
        const entry = { token: jws.token, auth, expiresAt, keys, generation: keys.generation() }
        cache.set(cacheKey(jws.token), entry, { ttl })
      }
    }
    return auth
  }

  function pickIssuer(payload: Record<string, unknown>): string {
    const { iss } = payload
    if (typeof iss !== 'string' || !keysByIssuer.has(iss)) throw unexpectedClaim('iss')
    return iss
  }

  // A hit costs a map lookup on a short key, one string comparison and two clock reads: no crypto, no I/O.
  function cached(token: string): Auth | undefined {
    const entry = cache?.get(cacheKey(token))
    // The entry's TTL already ends at `exp`; the wall-clock check also holds if the clocks disagree. A
    // token verified under keys since refetched (a key may have been removed) or now past `maxStale` is
    // verified again, so the cache never outlives the rules the keys follow.
    return entry !== undefined &&
      entry.token === token &&
      entry.expiresAt > Date.now() &&
      entry.keys.generation() === entry.generation
      ? entry.auth
      : undefined
  }

  /**
   * RFC 6750 syntax, then the compact JWS form with each segment in its one canonical base64url spelling
   * (lib/jws.ts). The length was bounded before this runs; both checks are linear.
   */
  function checkShape(token: string): CompactJws | undefined {
    return compactJws(token, challenges)
  }

  async function verify(token: string, options: VerifyOptions = {}): Promise<Auth> {
    if (typeof token !== 'string' || token.length > o.maxTokenLength) {
      throw new ZeroTrustError('invalid_token', 'the access token is too large', {
        reason: 'token_too_large',
        challenges,
      })
    }
    let auth = cached(token)
    if (auth === undefined) {
      const fresh = verifyFresh(checkShape(token))
      auth = fresh instanceof Promise ? await fresh : fresh
    }
    if (auth.cnf !== undefined && options.binding !== 'checked-by-caller')
      checkBinding(auth, undefined, challenges)
    return auth
  }

  // A token bound to a key or a certificate (RFC 9449, RFC 8705) is checked against this request.
  function bound(auth: Auth, req: RequestLike): Auth {
    if (auth.cnf !== undefined) checkBinding(auth, req, challenges)
    return auth
  }

  return {
    layer: 'jwt',
    maxTokenLength: o.maxTokenLength,
    verify,
    // Not async: a cache hit answers with the Auth itself, so adapters go on without a promise; every
    // refusal is a rejected promise, as callers of `authenticate` expect.
    authenticate(req: RequestLike): Auth | Promise<Auth> {
      try {
        const credentials = takeCredentials(req, readOptions)
        if (credentials === undefined) {
          throw new ZeroTrustError('missing_credentials', 'the request carries no access token', {
            challenges,
          })
        }
        const { token } = credentials
        const auth = cached(token)
        if (auth === undefined) {
          // A cached token passed these checks before it was cached, so only a miss pays for them.
          const fresh = verifyFresh(checkShape(token))
          return fresh instanceof Promise ? fresh.then((verified) => bound(verified, req)) : bound(fresh, req)
        }
        return bound(auth, req)
      } catch (error) {
        return Promise.reject(error)
      }
    },
    accepts(req: RequestLike): boolean {
      const header = req.headerValues('authorization')[0]
      return header !== undefined && jwtShape.test(header)
    },
  }
}

/**
 * The cache key of a token: its last 32 characters, all signature, so hashing the key costs the same for
 * any token length. Entries keep the whole token and serve only an exact match, so two tokens that share
 * a suffix can never share an entry.
 */
function cacheKey(token: string): string {
  return token.length > 32 ? token.slice(-32) : token
}

// A compact JWS after the Bearer scheme (the one `authenticate` reads): three base64url segments.
const jwtShape = /^bearer +[\w-]+\.[\w-]+\.[\w-]+ *$/i

function keySources(o: JwtBearerSettings): Map<string, Keys> {
  const sources = new Map<string, Keys>()
  const settings = { ...o.http, algorithms: o.algorithms }
  for (const issuer of o.issuers) {
    if (o.secret !== undefined) {
      sources.set(issuer, new SecretKeys(o.secret))
    } else if (o.jwks !== undefined) {
      const getKey = createLocalJWKSet(publicSigningKeys(o.jwks as unknown as Record<string, unknown>))
      sources.set(issuer, new MemoizedKeys({ getKey, generation: () => 0, touch: () => {} }))
    } else {
      const explicit = o.jwksUri === undefined ? undefined : new URL(o.jwksUri)
      const resolve = explicit === undefined ? () => discoverJwksUri(issuer, settings) : async () => explicit
      sources.set(issuer, new MemoizedKeys(new RemoteKeySet(resolve, settings)))
    }
  }
  return sources
}

// A cached token serves until the earliest of its `exp`, the end of its `maxTokenAge` and `cache.maxTtl`.
function cacheUntil(payload: Readonly<Record<string, unknown>>, o: JwtBearerSettings): number {
  let until = Date.now() + (o.cache?.maxTtl ?? 0) * 1000
  if (typeof payload.exp === 'number') until = Math.min(until, payload.exp * 1000)
  if (o.maxTokenAge !== undefined && typeof payload.iat === 'number') {
    until = Math.min(until, (payload.iat + o.maxTokenAge) * 1000)
  }
  return Math.floor(until)
}
