import type { Auth } from '@zerotrust/core'
import type { ZeroTrustRouteConfig } from './lib/route-plan.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request, set by the zerotrust plugin; absent on opted-out routes. */
    auth?: Auth
  }

  interface FastifyContextConfig {
    /**
     * What zerotrust checks on this route: `{ scopes, match, authorize }`, or `false` to opt the
     * route out (no authentication, no decision events).
     */
    zeroTrust?: ZeroTrustRouteConfig
  }
}
