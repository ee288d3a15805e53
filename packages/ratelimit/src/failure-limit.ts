import { type Auth, type Authenticator, type RequestLike, ZeroTrustError } from '@zerotrust/core'
import { toZeroTrustError } from '@zerotrust/core/layer'
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { rateLimitHeaders, resetSeconds } from './lib/headers.js'
import { peerKey } from './lib/keys.js'
import { type FailureLimitOptions, failureLimitSettings } from './lib/options.js'
import { withTimeout } from './lib/timeout.js'

interface Window {
  failures: number
  readonly endsAt: number
}

const policy = 'auth-failures'

/**
 * Bounds what a peer may spend on failing authentication: wraps an authenticator and counts, per peer
 * address (the socket's, IPv6 by /64, never a forwarded header), the requests it refuses as the client's
 * fault (4xx: a bad token, a missing proof). A peer past `failures` in the window is answered 429
 * `rate_limited` (reason `too_many_failures`) without running the authenticator, so a flood of forged
 * tokens costs a map lookup, not a signature check. Counts stay in this process, in at most `maxPeers`
 * entries, or, with `redis`, are shared by every replica: each refusal is counted in Redis (one atomic
 * script), and a replica learns from the count it gets back that the peer is over its limit, so a peer
 * earns at most `failures` plus one per replica in a window, and requests still cost no Redis command
 * before the authenticator runs. Requests whose peer address the adapter does not know share one count.
 *
 * @example
 * app.use(authenticate(failureLimit(jwtBearer({ issuer, audience, algorithms: ['ES256'] })), options))
 * failureLimit(tokens, { failures: 20, windowSeconds: 60, redis }) // shared by the replicas
 * @throws TypeError naming the option when an option is invalid
 * @see https://owasp.org/API-Security/editions/2023/en/0xa4-unrestricted-resource-consumption/
 */
export function failureLimit(inner: Authenticator, options: FailureLimitOptions = {}): Authenticator {
  if (typeof inner?.authenticate !== 'function') {
    throw new TypeError('failureLimit() needs an authenticator, such as jwtBearer(...)')
  }
  const o = failureLimitSettings(options)
  const windowMs = o.windowSeconds * 1000
  // Insertion order is age: past `maxPeers` the oldest window goes first. With Redis, each entry is what
  // the last count in Redis answered for the peer.
  const windows = new Map<string, Window>()
  const shared =
    o.redis === undefined
      ? undefined
      : new RateLimiterRedis({
          storeClient: o.redis,
          points: o.failures,
          duration: o.windowSeconds,
          // `#` starts no budget name of rateLimit, so no budget shares these keys under the same prefix.
          keyPrefix: `${o.prefix}#${policy}`,
          // A disconnected client fails at once rather than queueing the count.
          rejectIfRedisNotReady: true,
        })

  const remember = (key: string, window: Window): void => {
    if (!windows.has(key) && windows.size >= o.maxPeers) {
      const oldest = windows.keys().next()
      if (oldest.done !== true) windows.delete(oldest.value)
    }
    windows.set(key, window)
  }

  // One more refusal of the peer, counted in Redis; `undefined` when Redis failed or timed out.
  const countShared = async (limiter: RateLimiterRedis, key: string): Promise<Window | undefined> => {
    let counted: RateLimiterRes
    try {
      counted = await withTimeout(limiter.consume(key, 1), o.operationTimeout)
    } catch (thrown) {
      // Past `failures` the limiter rejects with the count, which is what we want to know.
      if (!(thrown instanceof RateLimiterRes)) return undefined
      counted = thrown
    }
    return { failures: counted.consumedPoints, endsAt: Date.now() + counted.msBeforeNext }
  }

  const refused = (window: Window, now: number): ZeroTrustError => {
    const seconds = resetSeconds(window.endsAt - now)
    return new ZeroTrustError('rate_limited', 'too many failed authentications from this peer', {
      reason: 'too_many_failures',
      retryAfter: seconds,
      headers: rateLimitHeaders(policy, o.failures, o.windowSeconds, 0, seconds),
    })
  }

  const authenticator: Authenticator = {
    layer: inner.layer,
    async authenticate(req: RequestLike): Promise<Auth> {
      const key = peerKey(req.remoteAddress) ?? 'unknown'
      const now = Date.now()
      let window = windows.get(key)
      if (window !== undefined && window.endsAt <= now) {
        windows.delete(key)
        window = undefined
      }
      if (window !== undefined && window.failures >= o.failures) throw refused(window, now)
      try {
        return await inner.authenticate(req)
      } catch (thrown) {
        const error = toZeroTrustError(thrown)
        // Only the client's faults count: our own outage (5xx) must not lock clients out.
        if (error.status >= 400 && error.status < 500) {
          const counted = shared === undefined ? undefined : await countShared(shared, key)
          // Without Redis, or while it fails, the peer is counted here: each replica still bounds it.
          if (counted !== undefined) remember(key, counted)
          else if (window === undefined) remember(key, { failures: 1, endsAt: now + windowMs })
          else window.failures += 1
        }
        throw error
      }
    },
  }
  if (inner.accepts !== undefined) {
    const accepts = inner.accepts.bind(inner)
    authenticator.accepts = accepts
  }
  return Object.freeze(authenticator)
}
