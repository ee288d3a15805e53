import { type Auth, type Authenticator, type RequestLike, ZeroTrustError } from '@zerotrust/core'
import {
  bearerChallenges,
  checkBinding,
  checkTokenSyntax,
  isCanonicalBase64url,
  takeCredentials,
  type VerifyOptions,
} from '@zerotrust/core/layer'
import {
  createLocalJWKSet,
  decodeJwt,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose'
import { LRUCache } from 'lru-cache'
import { minimumSecretBytes } from './lib/algorithms.js'
import { discoverJwksUri } from './lib/discovery.js'
import { MemoizedKeys } from './lib/memoized-keys.js'
import {
  type JwtBearerOptions,
  type JwtBearerSettings,
  jwtBearerSettings,
  type SecretInput,
} from './lib/options.js'
import { publicSigningKeys, RemoteKeySet } from './lib/remote-keys.js'
import { toAuth } from './lib/to-auth.js'
import { translateError } from './lib/translate-error.js'

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

type SecretKey = (header: Parameters<JWTVerifyGetKey>[0]) => Promise<Uint8Array>
type KeyInput = MemoizedKeys | SecretKey

interface CacheEntry {
  /** The whole token: the entry serves only this exact string. */
  readonly token: string
  readonly auth: Auth
  /** Milliseconds since the epoch after which the entry must not serve. */
  readonly expiresAt: number
}

/**
 * Verifies JWT access tokens on jose: pinned algorithms, keys only from the issuer's JWKS (discovered
 * and cached), exact `iss`, `aud`, `exp`/`nbf`/`iat` with a small tolerance, `typ: at+jwt` and the
 * RFC 9068 claims by default, and a bounded cache of verified tokens so that a repeated token costs a map
 * lookup.
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
  const verifyOptions = (issuer: string): JWTVerifyOptions => ({
    issuer,
    audience: o.audience as string[],
    algorithms: o.algorithms as string[],
    clockTolerance: o.clockTolerance,
    requiredClaims: o.requiredClaims as string[],
    ...(o.typ === undefined ? {} : { typ: o.typ }),
    ...(o.maxTokenAge === undefined ? {} : { maxTokenAge: o.maxTokenAge }),
  })
  const optionsByIssuer = new Map(o.issuers.map((issuer) => [issuer, verifyOptions(issuer)]))

  async function verifyUncached(token: string): Promise<Auth> {
    // With several issuers the unverified `iss` only picks the key set; jwtVerify then requires that
    // very issuer, and the signature covers it.
    const issuer = single ?? pickIssuer(token)
    const keys = keysByIssuer.get(issuer) as KeyInput
    const key = keys instanceof MemoizedKeys ? keys.keyFor(token) : keys
    const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, optionsByIssuer.get(issuer))
    // RFC 8725 §3.10, RFC 9068 §4: a token issued in the future is refused even without maxTokenAge
    // (jose checks "iat" only with it); the same tolerance as jose applies to "exp" and "nbf".
    if (typeof payload.iat === 'number' && payload.iat > Math.floor(Date.now() / 1000) + o.clockTolerance) {
      throw new ZeroTrustError('invalid_token', 'the access token was issued in the future', {
        reason: 'iat_in_future',
      })
    }
    const auth = toAuth(payload, 'Bearer')
    if (cache !== undefined) {
      const expiresAt = cacheUntil(payload, o)
      const ttl = expiresAt - Date.now()
      if (ttl > 0) cache.set(cacheKey(token), { token, auth, expiresAt }, { ttl })
    }
    return auth
  }

  function pickIssuer(token: string): string {
    let iss: JWTPayload['iss']
    try {
      iss = decodeJwt(token).iss
    } catch (error) {
      throw translateError(error, challenges)
    }
    if (typeof iss !== 'string' || !keysByIssuer.has(iss)) {
      throw new ZeroTrustError('invalid_token', 'unexpected "iss" claim value', {
        reason: 'claim:iss',
        challenges,
      })
    }
    return iss
  }

  // A hit costs a map lookup on a short key, one string comparison and a clock read: no crypto, no I/O.
  function cached(token: string): Auth | undefined {
    const entry = cache?.get(cacheKey(token))
    // The entry's TTL already ends at `exp`; the wall-clock check also holds if the clocks disagree.
    return entry !== undefined && entry.token === token && entry.expiresAt > Date.now()
      ? entry.auth
      : undefined
  }

  /**
   * RFC 6750 syntax, then the compact JWS form with each segment in its one canonical base64url
   * spelling: jose decodes a segment whose unused trailing bits are set to the same bytes, so the same
   * token could be sent as other strings that verify alike and miss anything keyed on the text (the
   * verified-token cache). The length was bounded before this runs; both checks are linear.
   */
  function checkShape(token: string): void {
    checkTokenSyntax(token, readOptions)
    const first = token.indexOf('.')
    const second = first === -1 ? -1 : token.indexOf('.', first + 1)
    // Another number of segments is not a compact JWS: jose refuses it as malformed.
    if (second === -1 || token.indexOf('.', second + 1) !== -1) return
    if (
      !isCanonicalBase64url(token.slice(0, first)) ||
      !isCanonicalBase64url(token.slice(first + 1, second)) ||
      !isCanonicalBase64url(token.slice(second + 1))
    ) {
      throw new ZeroTrustError('invalid_token', 'the access token is not in canonical base64url', {
        reason: 'non_canonical_encoding',
        challenges,
      })
    }
  }

  async function verifyFresh(token: string): Promise<Auth> {
    try {
      return await verifyUncached(token)
    } catch (error) {
      throw translateError(error, challenges)
    }
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
      checkShape(token)
      auth = await verifyFresh(token)
    }
    if (auth.cnf !== undefined && options.binding !== 'checked-by-caller')
      checkBinding(auth, undefined, challenges)
    return auth
  }

  return {
    layer: 'jwt',
    maxTokenLength: o.maxTokenLength,
    verify,
    async authenticate(req: RequestLike): Promise<Auth> {
      const credentials = takeCredentials(req, readOptions)
      if (credentials === undefined) {
        throw new ZeroTrustError('missing_credentials', 'the request carries no access token', { challenges })
      }
      const { token } = credentials
      let auth = cached(token)
      if (auth === undefined) {
        // A cached token passed these checks before it was cached, so only a miss pays for them.
        checkShape(token)
        auth = await verifyFresh(token)
      }
      if (auth.cnf !== undefined) checkBinding(auth, req, challenges)
      return auth
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

function keySources(o: JwtBearerSettings): Map<string, KeyInput> {
  const sources = new Map<string, KeyInput>()
  const settings = { ...o.http, algorithms: o.algorithms }
  for (const issuer of o.issuers) {
    if (o.secret !== undefined) {
      sources.set(issuer, secretKey(o.secret))
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

const encoder = new TextEncoder()

function secretKey(secret: SecretInput): SecretKey {
  const fixed = typeof secret === 'function' ? undefined : toBytes(secret)
  return async (header) => {
    let bytes = fixed
    if (bytes === undefined) {
      let value: string | Uint8Array
      try {
        value = await secret_(secret)
      } catch (cause) {
        // The secret store is down: a dependency outage (503), not a bad token.
        throw new ZeroTrustError('dependency_unavailable', 'the verification secret is unavailable', {
          reason: 'secret_unavailable',
          cause,
        })
      }
      bytes = toBytes(value)
    }
    const needed = minimumSecretBytes[header.alg as keyof typeof minimumSecretBytes] ?? 0
    if (bytes.byteLength < needed) {
      throw new ZeroTrustError('internal_error', 'the configured HMAC secret is too short', {
        reason: 'secret_too_short',
      })
    }
    return bytes
  }
}

function secret_(secret: SecretInput): PromiseLike<string | Uint8Array> | string | Uint8Array {
  return typeof secret === 'function' ? secret() : secret
}

function toBytes(value: string | Uint8Array): Uint8Array {
  if (typeof value === 'string') return encoder.encode(value)
  if (value instanceof Uint8Array) return value
  throw new ZeroTrustError('internal_error', 'the configured HMAC secret is not a string or Uint8Array', {
    reason: 'secret_invalid',
  })
}

// A cached token serves until the earliest of its `exp`, the end of its `maxTokenAge` and `cache.maxTtl`.
function cacheUntil(payload: JWTPayload, o: JwtBearerSettings): number {
  let until = Date.now() + (o.cache?.maxTtl ?? 0) * 1000
  if (typeof payload.exp === 'number') until = Math.min(until, payload.exp * 1000)
  if (o.maxTokenAge !== undefined && typeof payload.iat === 'number') {
    until = Math.min(until, (payload.iat + o.maxTokenAge) * 1000)
  }
  return Math.floor(until)
}
