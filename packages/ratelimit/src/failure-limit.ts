import { type Auth, type Authenticator, type RequestLike, ZeroTrustError } from '@zerotrust/core'
import { toZeroTrustError } from '@zerotrust/core/layer'
import { rateLimitHeaders, resetSeconds } from './lib/headers.js'
import { peerKey } from './lib/keys.js'
import { type FailureLimitOptions, failureLimitSettings } from './lib/options.js'

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
 * tokens costs a map lookup, not a signature check. Counts stay in this process (each replica bounds
 * its own share) and in at most `maxPeers` entries. Requests whose peer address the adapter does not
 * know share one count.
 *
 * @example
 * app.use(authenticate(failureLimit(jwtBearer({ issuer, audience, algorithms: ['ES256'] })), options))
 * @throws TypeError naming the option when an option is invalid
 * @see https://owasp.org/API-Security/editions/2023/en/0xa4-unrestricted-resource-consumption/
 */
export function failureLimit(inner: Authenticator, options: FailureLimitOptions = {}): Authenticator {
  if (typeof inner?.authenticate !== 'function') {
    throw new TypeError('failureLimit() needs an authenticator, such as jwtBearer(...)')
  }
  const o = failureLimitSettings(options)
  const windowMs = o.windowSeconds * 1000
  // Insertion order is age: past `maxPeers` the oldest window goes first.
  const windows = new Map<string, Window>()

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
          if (window === undefined) {
            if (windows.size >= o.maxPeers) {
              const oldest = windows.keys().next()
              if (oldest.done !== true) windows.delete(oldest.value)
            }
            windows.set(key, { failures: 1, endsAt: now + windowMs })
          } else {
            window.failures += 1
          }
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
