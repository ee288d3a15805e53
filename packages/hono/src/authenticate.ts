import type { Auth, Authenticator } from '@zerotrust/core'
import {
  type AdapterContext,
  type AdapterOptions,
  adapterSettings,
  attachContext,
  runAuthentication,
} from '@zerotrust/core/adapter'
import type { Context, MiddlewareHandler, Next } from 'hono'
import { errorResponse, setResponseHeaders } from './lib/context.js'
import { requestView } from './lib/request-view.js'
import type { ZeroTrustEnv } from './types.js'

type MutableContext = { -readonly [K in keyof AdapterContext]: AdapterContext[K] }

/** Options of {@link authenticate}: `publicOrigin`, `trustProxy`, `onDecision`, `realm`. */
export type AuthenticateOptions = AdapterOptions

/**
 * Hono middleware that authenticates every request with `authenticator` and sets `c.get('auth')`.
 * A failure is answered at once with the status, `WWW-Authenticate` and problem+json body that core
 * renders; the handler never runs, and nothing reaches `app.onError`.
 *
 * On @hono/node-server the request is read from the Node request (`c.env.incoming`), so a repeated
 * `Authorization` header and the TLS peer certificate are seen; elsewhere from the Fetch request.
 *
 * @example
 * app.use('/orders/*', authenticate(jwtBearer({ issuer, audience, algorithms: ['ES256'] })))
 * @throws TypeError naming the option when an option is invalid
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function authenticate(
  authenticator: Authenticator,
  options: AuthenticateOptions = {},
): MiddlewareHandler<ZeroTrustEnv> {
  const { resolveOrigin, onDecision, realm } = adapterSettings(authenticator, options)

  // Not async: when the authenticator answers at once (a cache hit), the next middleware runs without a
  // promise of ours or a microtask.
  return function zeroTrustAuthenticate(c, next) {
    const view = requestView(c, resolveOrigin)
    // One context object per request, its `auth` filled in once known, rather than a second one then.
    const context: MutableContext = { view, onDecision, realm, auth: undefined }
    attachContext(c, context)
    const answer = runAuthentication(authenticator, view, onDecision)
    if (!(answer instanceof Promise)) return proceed(c, next, context, answer)
    return answer.then(
      (auth) => proceed(c, next, context, auth),
      (error: unknown) => errorResponse(c, error, realm),
    )
  }
}

function proceed(c: Context<ZeroTrustEnv>, next: Next, context: MutableContext, auth: Auth): Promise<void> {
  context.auth = auth
  c.set('auth', auth)
  if (auth.responseHeaders !== undefined) setResponseHeaders(c, auth.responseHeaders)
  return next()
}
