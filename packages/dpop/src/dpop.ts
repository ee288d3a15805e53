import { type Auth, type Authenticator, type RequestLike, ZeroTrustError } from '@zerotrust/core'
import { takeCredentials } from '@zerotrust/core/layer'
import { authenticateBearer } from './lib/authenticate-bearer.js'
import { authenticateDpop } from './lib/authenticate-dpop.js'
import { dpopChallenges } from './lib/challenges.js'
import { RequestHtu } from './lib/htu.js'
import { StatelessNonces } from './lib/nonces.js'
import { type DpopOptions, dpopSettings } from './lib/options.js'
import { ProofVerifier } from './lib/proof.js'
import type { DpopState, TokenAuthenticator } from './lib/state.js'
import { memoryReplayStore } from './memory-replay-store.js'

export type { TokenAuthenticator } from './lib/state.js'

/** The authenticator `dpop()` returns. */
export interface DpopAuthenticator extends Authenticator {
  /** `dpop/<inner layer>`, such as `dpop/jwt`. */
  readonly layer: string
  /** Authenticates one request; always a promise, as a proof's replay check may ask the shared store. */
  authenticate(req: RequestLike): Promise<Auth>
  /** The current server nonce, when nonces are on: a client may be sent it ahead of time. */
  currentNonce(): string | undefined
}

const schemes = ['DPoP', 'Bearer'] as const
// The bound of a DPoP credential when the inner layer states none.
const defaultMaxTokenLength = 16_384

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
  const maxTokenLength = inner.maxTokenLength ?? defaultMaxTokenLength
  if (!Number.isSafeInteger(maxTokenLength) || maxTokenLength < 1) {
    throw new TypeError('dpop() needs an inner authenticator whose "maxTokenLength" is a positive integer')
  }
  const o = dpopSettings(options)
  const state: DpopState = Object.freeze({
    inner,
    required: o.required,
    maxTokenLength,
    maxProofLength: o.maxProofLength,
    maxProofAge: o.maxProofAge,
    clockTolerance: o.clockTolerance,
    // A proof stays acceptable from `iat - clockTolerance` to `iat + maxProofAge`: its `jti` is kept that long.
    replayTtlMs: (o.maxProofAge + 2 * o.clockTolerance) * 1000,
    proofs: new ProofVerifier(o.algorithms, o.keyCacheSize),
    replayStore: o.replayStore ?? memoryReplayStore(),
    nonces: o.nonce === undefined ? undefined : new StatelessNonces(o.nonce.secret, o.nonce.lifetime),
    htu: new RequestHtu(),
    challenges: dpopChallenges(o.realm, o.algorithmList, o.required),
  })
  const { nonces, challenges } = state
  const readOptions = { schemes, maxTokenLength, challenges: challenges.dpopFailure }

  return {
    layer: `dpop/${inner.layer}`,
    async authenticate(req: RequestLike) {
      const credentials = takeCredentials(req, readOptions)
      if (credentials === undefined) {
        throw new ZeroTrustError('missing_credentials', 'the request carries no access token', {
          challenges: challenges.missing,
          ...(nonces === undefined ? {} : { headers: nonces.headers() }),
        })
      }
      return credentials.scheme === 'Bearer'
        ? authenticateBearer(state, req)
        : authenticateDpop(state, req, credentials.token)
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
