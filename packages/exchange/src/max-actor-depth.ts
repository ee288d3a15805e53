import { type Auth, type Authenticator, isZeroTrustError, type RequestLike } from '@zerotrust/core'
import { bearerChallenges } from '@zerotrust/core/layer'
import { actorChain } from './actor-chain.js'
import { maxActorDepthSettings } from './lib/options.js'

/** Options of {@link maxActorDepth}. */
export interface MaxActorDepthOptions {
  /** Most actors a token's `act` chain may name (RFC 8693 §4.1); from 1 to 32. */
  readonly maxDepth: number
  /** The `realm` of the `WWW-Authenticate` challenge of a refusal. */
  readonly realm?: string
}

/**
 * Wraps a token authenticator (`jwtBearer` of internal tokens, most often) and refuses a token whose
 * `act` chain names more actors than `maxDepth`, or whose `act` is malformed, with 401 `invalid_token`.
 * Every hop that mints on a user's behalf adds one actor, so the bound is the longest call path that may
 * act for a user.
 *
 * @example
 * const tokens = maxActorDepth(
 *   jwtBearer({ issuer: 'https://edge.internal/', audience: 'api://billing', algorithms: ['ES256'], jwksUri }),
 *   { maxDepth: 2 },
 * )
 * app.use(authenticate(allOf(callers, tokens)))
 * @throws TypeError at construction when an option is invalid, naming it
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-4.1
 */
export function maxActorDepth(inner: Authenticator, options: MaxActorDepthOptions): Authenticator {
  const settings = maxActorDepthSettings(inner, options)
  const challenges = bearerChallenges(settings.realm)
  const layer: Authenticator = {
    layer: inner.layer,
    async authenticate(req: RequestLike): Promise<Auth> {
      const auth = await inner.authenticate(req)
      if (auth.claims.act === undefined) return auth
      try {
        actorChain(auth, settings.maxDepth)
      } catch (error) {
        throw isZeroTrustError(error) ? error.with({ challenges }) : error
      }
      return auth
    },
  }
  if (inner.accepts !== undefined) {
    const accepts = inner.accepts.bind(inner)
    return Object.freeze({ ...layer, accepts })
  }
  return Object.freeze(layer)
}
