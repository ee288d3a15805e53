import { createHash } from 'node:crypto'
import {
  type Auth,
  type Authenticator,
  type Challenge,
  checkCertificateBinding,
  isDpopBound,
  isZeroTrustError,
  type RequestLike,
  requestUrl,
  takeCredentials,
  type VerifyOptions,
  ZeroTrustError,
} from '@zerotrust/core'
import { normalizeHtu, requestHtu } from './lib/htu.js'
import { StatelessNonces } from './lib/nonces.js'
import { type DpopOptions, dpopSettings } from './lib/options.js'
import { type ProofProblem, ProofVerifier } from './lib/proof.js'
import { memoryReplayStore } from './memory-replay-store.js'

/**
 * A token authenticator that can check a bare token: `jwtBearer(...)` and `introspection(...)` are.
 * `dpop()` reads the `DPoP` credential itself and asks it about the token.
 */
export interface TokenAuthenticator extends Authenticator {
  verify(token: string, options?: VerifyOptions): Promise<Auth>
}

/** The authenticator `dpop()` returns. */
export interface DpopAuthenticator extends Authenticator {
  /** `dpop/<inner layer>`, such as `dpop/jwt`. */
  readonly layer: string
  /** The current server nonce, when nonces are on: a client may be sent it ahead of time. */
  currentNonce(): string | undefined
}

const schemes = ['DPoP', 'Bearer'] as const

/**
 * Wraps a token authenticator with RFC 9449 proof-of-possession: a request with `Authorization: DPoP
 * <token>` must carry one `DPoP` proof, signed by the key the token is bound to (`cnf.jkt`), made for this
 * method and URL, fresh, unused, over this token (`ath`), and carrying the server nonce when nonces are on.
 *
 * Bearer requests go to the inner authenticator unless `required` is set; a DPoP-bound token is never
 * accepted as a bearer token (§7.2), and a bearer token is never upgraded by a proof sent beside it.
 * The `htu` check compares with the adapter's configured public origin, never with `Host`.
 *
 * @example
 * const tokens = dpop(jwtBearer({ issuer, audience, algorithms: ['ES256'] }), {
 *   required: true,
 *   replayStore: redisReplayStore(redis),
 *   nonce: { secret: () => secrets.DPOP_NONCE_KEY.current() },
 * })
 * app.use(authenticate(tokens, { publicOrigin: 'https://api.example.com' }))
 * @throws TypeError naming the option when an option is invalid
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
export function dpop(inner: TokenAuthenticator, options: DpopOptions = {}): DpopAuthenticator {
  if (typeof inner?.verify !== 'function' || typeof inner.authenticate !== 'function') {
    throw new TypeError(
      'dpop() needs a token authenticator with a "verify" method, such as jwtBearer(...) or introspection(...)',
    )
  }
  const o = dpopSettings(options)
  const proofs = new ProofVerifier(o.algorithms, o.keyCacheSize)
  const replayStore = o.replayStore ?? memoryReplayStore()
  const nonces = o.nonce === undefined ? undefined : new StatelessNonces(o.nonce.secret, o.nonce.lifetime)
  // A proof stays acceptable from `iat - clockTolerance` to `iat + maxProofAge`: its `jti` is kept that long.
  const replayTtlMs = (o.maxProofAge + 2 * o.clockTolerance) * 1000

  const realmParams = o.realm === undefined ? {} : { realm: o.realm }
  const dpopChallenge: Challenge = { scheme: 'DPoP', params: { ...realmParams, algs: o.algorithmList } }
  const bearerChallenge: Challenge = { scheme: 'Bearer', params: realmParams }
  // §7.1: the error belongs to the scheme the request used; the other accepted scheme is offered bare.
  const dpopFailure: readonly Challenge[] = o.required
    ? [dpopChallenge]
    : [dpopChallenge, { ...bearerChallenge, error: false }]
  const bearerFailure: readonly Challenge[] = [bearerChallenge, { ...dpopChallenge, error: false }]
  const readOptions = { schemes, maxTokenLength: 16_384, challenges: dpopFailure }

  function invalidProof(message: string, reason: string): ZeroTrustError {
    return new ZeroTrustError('invalid_dpop_proof', message, { reason, challenges: dpopFailure })
  }

  function nonceError(message: string, reason: string): ZeroTrustError {
    return new ZeroTrustError('use_dpop_nonce', message, {
      reason,
      challenges: dpopFailure,
      headers: nonceHeaders((nonces as StatelessNonces).current()),
    })
  }

  async function authenticateDpop(req: RequestLike, token: string): Promise<Auth> {
    // §4.3 check 1: exactly one DPoP header. Fetch-based servers join repeated headers with ", ",
    // which a compact JWS never contains.
    const values = req.headerValues('dpop')
    if (values.length === 0) throw invalidProof('the request carries no DPoP proof', 'missing_proof')
    const proof = values[0] as string
    if (values.length > 1 || proof.includes(',')) {
      throw invalidProof('the request carries more than one DPoP proof', 'multiple_proofs')
    }
    if (proof.length > o.maxProofLength) throw invalidProof('the DPoP proof is too large', 'proof_too_large')

    const verified = proofs.verify(proof)
    if (typeof verified === 'string') throw invalidProof(proofMessages[verified], verified)

    // Checks 7–9: method, URL (from the configured origin, never from Host), freshness.
    if (verified.htm !== req.method) throw invalidProof('the DPoP proof was made for another method', 'htm')
    // Without a configured origin, requestUrl throws the 500 that says so.
    const expected = requestHtu(req.origin ?? requestUrl(req).origin, req.path)
    if (expected === undefined || normalizeHtu(verified.htu) !== expected) {
      throw invalidProof('the DPoP proof was made for another URL', 'htu')
    }
    const now = Date.now()
    const nowSeconds = now / 1000
    if (verified.iat > nowSeconds + o.clockTolerance) {
      throw invalidProof('the DPoP proof was issued in the future', 'iat_future')
    }
    if (verified.iat < nowSeconds - o.maxProofAge)
      throw invalidProof('the DPoP proof is too old', 'iat_too_old')

    // Check 10 (§8, §9): the server nonce, once nonces are on.
    let responseHeaders: Readonly<Record<string, string>> | undefined
    if (nonces !== undefined) {
      if (verified.nonce === undefined)
        throw nonceError('the DPoP proof must carry the server nonce', 'nonce_missing')
      const state = nonces.check(verified.nonce, now)
      if (state === 'invalid') throw nonceError('the DPoP proof carries an unknown nonce', 'nonce_invalid')
      if (state === 'stale') throw nonceError('the DPoP proof carries an expired nonce', 'nonce_stale')
      // §8.2: the current nonce rides on every success, so a client holding the previous period's nonce
      // (still accepted) moves on before it goes stale.
      responseHeaders = nonceHeaders(nonces.current(now))
    }

    // Checks 11–12: the token, bound to this proof's key, and the proof made over this token.
    let auth: Auth
    try {
      auth = await inner.verify(token, { binding: 'checked-by-caller' })
    } catch (error) {
      throw rechallenge(error, dpopFailure)
    }
    if (
      verified.ath === undefined ||
      verified.ath !== createHash('sha256').update(token).digest('base64url')
    ) {
      throw invalidProof('the DPoP proof was not made for this access token', 'ath')
    }
    const jkt = auth.cnf?.jkt
    if (jkt === undefined) {
      throw new ZeroTrustError('invalid_token', 'the access token is not bound to a DPoP key', {
        reason: 'not_dpop_bound',
        challenges: dpopFailure,
      })
    }
    if (jkt !== verified.thumbprint) {
      throw new ZeroTrustError('invalid_token', 'the access token is bound to another key', {
        reason: 'key_mismatch',
        challenges: dpopFailure,
      })
    }
    // A token bound to a certificate as well (RFC 8705) must also come over that TLS connection.
    if (auth.cnf?.['x5t#S256'] !== undefined) checkCertificateBinding(auth, req, dpopFailure)

    // §11.1: each proof once. Last, so a proof refused for another reason does not burn its `jti`.
    let first: boolean
    try {
      first = await replayStore.claim(replayKey(verified.thumbprint, verified.jti), replayTtlMs)
    } catch (error) {
      if (isZeroTrustError(error)) throw error
      throw new ZeroTrustError('dependency_unavailable', 'the DPoP replay store cannot be reached', {
        reason: 'replay_store_unavailable',
        cause: error,
        retryAfter: 1,
      })
    }
    if (!first) throw invalidProof('the DPoP proof was already used', 'replayed')

    return responseHeaders === undefined
      ? { ...auth, scheme: 'DPoP' }
      : { ...auth, scheme: 'DPoP', responseHeaders }
  }

  async function authenticateBearer(req: RequestLike, hasProof: boolean): Promise<Auth> {
    if (o.required) {
      throw new ZeroTrustError('invalid_token', 'this resource requires a DPoP-bound access token', {
        reason: 'dpop_required',
        challenges: [{ ...dpopChallenge }],
      })
    }
    // A proof beside a bearer token: the client meant DPoP but sent the wrong scheme. Refused, so that no
    // one can take the proof for a check that did not happen.
    if (hasProof) {
      throw new ZeroTrustError('invalid_request', 'a DPoP proof needs the DPoP authorization scheme', {
        reason: 'proof_with_bearer',
        challenges: bearerFailure,
      })
    }
    let auth: Auth
    try {
      auth = await inner.authenticate(req)
    } catch (error) {
      throw rechallenge(error, bearerFailure)
    }
    // The inner layer refuses DPoP-bound bearer tokens (§7.2); this guards an inner layer that would not.
    if (isDpopBound(auth)) {
      throw new ZeroTrustError('invalid_token', 'the access token is bound to a DPoP key', {
        reason: 'dpop_bound',
        challenges: bearerFailure,
      })
    }
    return auth
  }

  return {
    layer: `dpop/${inner.layer}`,
    async authenticate(req: RequestLike): Promise<Auth> {
      const credentials = takeCredentials(req, readOptions)
      if (credentials === undefined) {
        throw new ZeroTrustError('missing_credentials', 'the request carries no access token', {
          challenges: o.required ? [dpopChallenge] : [dpopChallenge, bearerChallenge],
          ...(nonces === undefined ? {} : { headers: nonceHeaders(nonces.current()) }),
        })
      }
      if (credentials.scheme === 'Bearer') {
        return authenticateBearer(req, req.headerValues('dpop').length > 0)
      }
      return authenticateDpop(req, credentials.token)
    },
    accepts(req: RequestLike): boolean {
      const header = req.headerValues('authorization')[0]
      if (header === undefined) return false
      if (/^dpop /i.test(header)) return true
      return !o.required && (inner.accepts?.(req) ?? /^bearer /i.test(header))
    },
    currentNonce: () => nonces?.current(),
  }
}

const proofMessages: Record<ProofProblem, string> = {
  malformed_proof: 'the DPoP proof is malformed',
  typ: 'the DPoP proof must have the type "dpop+jwt"',
  alg: 'the DPoP proof algorithm is not accepted',
  crit: 'the DPoP proof names extensions that are not understood',
  jwk: 'the DPoP proof carries no usable public key',
  private_key: 'the DPoP proof key must be a public key',
  weak_key: 'the DPoP proof key is too weak',
  signature: 'the DPoP proof signature is invalid',
  missing_claim: 'the DPoP proof lacks a required claim',
}

// `DPoP-Nonce` must be readable by browser clients across origins; a CORS layer lets them read it only
// when it is listed in Access-Control-Expose-Headers, which the adapters merge.
let lastNonceHeaders: Readonly<Record<string, string>> = Object.freeze({ 'DPoP-Nonce': '' })
function nonceHeaders(nonce: string): Readonly<Record<string, string>> {
  // One frozen object per nonce period, not one per request.
  if (lastNonceHeaders['DPoP-Nonce'] !== nonce) lastNonceHeaders = Object.freeze({ 'DPoP-Nonce': nonce })
  return lastNonceHeaders
}

function replayKey(thumbprint: string, jti: string): string {
  return createHash('sha256').update(thumbprint).update('.').update(jti).digest('base64url')
}

/** The same error with the challenges of this layer, which offer both schemes. */
function rechallenge(error: unknown, challenges: readonly Challenge[]): unknown {
  if (!isZeroTrustError(error) || error.challenges === undefined) return error
  return new ZeroTrustError(error.code, error.message, {
    ...(error.reason === undefined ? {} : { reason: error.reason }),
    cause: error,
    challenges,
    ...(error.scope === undefined ? {} : { scope: error.scope }),
    ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
    ...(error.headers === undefined ? {} : { headers: error.headers }),
  })
}
