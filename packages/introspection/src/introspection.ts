import {
  type Auth,
  type Authenticator,
  type Challenge,
  isZeroTrustError,
  type RequestLike,
  ZeroTrustError,
} from '@zerotrust/core'
import {
  bearerChallenges,
  checkBinding,
  checkTokenSyntax,
  isDpopBound,
  recordPresentedToken,
  takeCredentials,
  type VerifyOptions,
} from '@zerotrust/core/layer'
import { IntrospectionCache, type Outcome, tokenKey } from './lib/introspection-cache.js'
import { introspectionClient } from './lib/introspection-client.js'
import { Limiter } from './lib/limiter.js'
import { type IntrospectionOptions, introspectionSettings } from './lib/options.js'
import { toAuth } from './lib/to-auth.js'

/** An authenticator of opaque access tokens; {@link Introspection.verify} checks a bare token. */
export interface Introspection extends Authenticator {
  readonly layer: 'introspection'
  /**
   * Introspects one access token (or serves the cached answer) and checks the answer, without reading a
   * request. A bound token (`cnf`, `token_type: DPoP`) is refused unless the caller checks the binding
   * itself (`{ binding: 'checked-by-caller' }`, as `dpop()` will).
   */
  verify(token: string, options?: VerifyOptions): Promise<Auth>
  /** The longest token accepted, in characters (`maxTokenLength`): `dpop()` bounds its credential by it. */
  readonly maxTokenLength: number
}

/**
 * Authenticates opaque access tokens through the authorization server's RFC 7662 introspection
 * endpoint, on oauth4webapi. The answer must say `active: true`; `iss` must equal the configured issuer
 * and `aud` contain this resource server's identifier when present; `exp` and `nbf` hold with a small
 * tolerance. Answers are cached by the SHA-256 of the token (active ones never past `exp`, at most
 * `cache.maxTtlSeconds`; inactive ones `cache.inactiveTtlSeconds`, in an LRU of their own), and
 * concurrent requests with one token share one introspection. At most `maxConcurrent` introspections
 * run at once, `maxQueued` more wait at most `timeout` for a slot, and anything beyond is refused with 503
 * `introspection_overloaded`: a flood of random tokens cannot reach the authorization server unbounded.
 *
 * An endpoint that is down, slow, failing or answering nonsense is a 503 with `Retry-After`, never a 401
 * and never an allow. A token bound to a DPoP key (`cnf.jkt` or `token_type: "DPoP"`) is refused as a
 * Bearer token (RFC 9449 §7.2); a token bound to a client certificate (`cnf["x5t#S256"]`) must come over
 * that certificate (RFC 8705 §3).
 *
 * @example
 * const tokens = introspection({
 *   issuer: 'https://idp.example.com/',
 *   audience: 'api://orders',
 *   clientId: 'orders-api',
 *   clientAuthentication: { method: 'client_secret_basic', secret: () => secrets.get('introspection') },
 * })
 * app.use(authenticate(anyOf(jwtBearer({ ... }), tokens)))
 * @throws TypeError naming the option when an option is invalid
 * @see https://www.rfc-editor.org/rfc/rfc7662
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-6.2
 */
export function introspection(options: IntrospectionOptions): Introspection {
  const o = introspectionSettings(options)
  const challenges = bearerChallenges(o.realm)
  const readOptions = { schemes: ['Bearer'] as const, maxTokenLength: o.maxTokenLength, challenges }
  const introspect = introspectionClient(o)
  const cache = new IntrospectionCache(o.cache)
  // Coalescing happens before the limiter: one token takes one slot however many requests carry it.
  const limiter = new Limiter({ maxConcurrent: o.maxConcurrent, maxQueued: o.maxQueued, maxWait: o.timeout })
  const checks = { issuer: o.issuer, audience: o.audience, clockTolerance: o.clockTolerance }

  async function fresh(token: string): Promise<Outcome> {
    const response = await limiter.run(() => introspect(token))
    // RFC 7662 §2.2: anything but `active: true` means the token is not to be accepted.
    if (response.active !== true) {
      return { error: rejection('the access token is not active', 'inactive', challenges) }
    }
    try {
      const auth = toAuth(response, checks, Date.now() / 1000)
      // Out of sight, for an RFC 8693 exchange at the edge (`presentedToken`); a cache hit keeps this Auth.
      recordPresentedToken(auth, token)
      // Whether a binding must be checked is decided once per answer, not per request.
      return { auth, bound: auth.cnf !== undefined || isDpopBound(auth) }
    } catch (error) {
      if (isZeroTrustError(error) && error.code === 'invalid_token') {
        return { error: error.with({ challenges }) }
      }
      throw error
    }
  }

  // A hit costs one SHA-256 of the token and a map lookup: no I/O.
  async function verify(token: string, options: VerifyOptions = {}): Promise<Auth> {
    // Bounded before hashing: authenticate() has this from takeCredentials, a bare token does not.
    if (token.length > o.maxTokenLength) throw tooLarge()
    const key = tokenKey(token)
    const outcome = cache.get(key) ?? (await miss(token, key))
    if (outcome.error !== undefined) throw outcome.error
    if (outcome.bound && options.binding !== 'checked-by-caller')
      checkBinding(outcome.auth, undefined, challenges)
    return outcome.auth
  }

  function tooLarge(): ZeroTrustError {
    return rejection('the access token is too large', 'token_too_large', challenges)
  }

  function miss(token: string, key: string): Promise<Outcome> {
    checkTokenSyntax(token, readOptions)
    if (!o.acceptJwtShaped && jwtToken.test(token)) {
      throw rejection(
        'the access token is a JWT, which this layer does not introspect',
        'jwt_shaped',
        challenges,
      )
    }
    return cache.share(key, () => fresh(token))
  }

  // The Auth of an answer, or its refusal; a token bound to a key or certificate is checked against `req`.
  function settle(outcome: Outcome, req: RequestLike): Auth {
    if (outcome.error !== undefined) throw outcome.error
    if (outcome.bound) checkBinding(outcome.auth, req, challenges)
    return outcome.auth
  }

  return {
    layer: 'introspection',
    maxTokenLength: o.maxTokenLength,
    verify,
    // Not async: a cached answer is served with the Auth itself, so adapters go on without a promise
    // (issue 14); a miss waits for the server, and every refusal is a rejected promise.
    authenticate(req: RequestLike): Auth | Promise<Auth> {
      try {
        const credentials = takeCredentials(req, readOptions)
        if (credentials === undefined) {
          throw new ZeroTrustError('missing_credentials', 'the request carries no access token', {
            challenges,
          })
        }
        const key = tokenKey(credentials.token)
        const outcome = cache.get(key)
        if (outcome === undefined) return miss(credentials.token, key).then((answer) => settle(answer, req))
        return settle(outcome, req)
      } catch (error) {
        return Promise.reject(error)
      }
    },
    accepts(req: RequestLike): boolean {
      const header = req.headerValues('authorization')[0]
      if (header === undefined || !credential.test(header)) return false
      return o.acceptJwtShaped || !jwtShape.test(header)
    },
  }
}

// A Bearer credential (the scheme authenticate() reads), and the compact JWS shape that jwtBearer takes.
const credential = /^bearer +\S+ *$/i
const jwtShape = /^bearer +[\w-]+\.[\w-]+\.[\w-]+ *$/i
const jwtToken = /^[\w-]+\.[\w-]+\.[\w-]+$/

function rejection(message: string, reason: string, challenges: readonly Challenge[]): ZeroTrustError {
  return new ZeroTrustError('invalid_token', message, { reason, challenges })
}
