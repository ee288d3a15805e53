import type { Auth } from '@zerotrust/core'

/**
 * The context variables `authenticate()` sets, for apps that type their variables explicitly.
 *
 * @example
 * const app = new Hono<{ Variables: ZeroTrustVariables & { requestId: string } }>()
 */
export interface ZeroTrustVariables {
  /** Who sent the request, set by `authenticate()`. */
  auth: Auth
}

/**
 * The Hono `Env` of zerotrust's middleware: `c.get('auth')` and `c.var.auth` are an `Auth`.
 *
 * @example
 * const app = new Hono<ZeroTrustEnv>()
 */
export interface ZeroTrustEnv {
  Variables: ZeroTrustVariables
}

declare module 'hono' {
  interface ContextVariableMap {
    /** Who sent the request, set by `authenticate()`; read it only behind that middleware. */
    auth: Auth
  }
}
