import type { Auth, Authenticator } from '@zerotrust/core'
import {
  type AdapterContext,
  type AdapterOptions,
  adapterSettings,
  attachContext,
  fromNodeRequest,
  runAuthentication,
} from '@zerotrust/core/adapter'
import type { Context, Middleware, Next } from 'koa'
import { sendError, setResponseHeaders } from './lib/context.js'

type MutableContext = { -readonly [K in keyof AdapterContext]: AdapterContext[K] }

/** Options of {@link authenticate}: `publicOrigin`, `trustProxy`, `onDecision`, `realm`. */
export type AuthenticateOptions = AdapterOptions

/**
 * Koa middleware that authenticates every request with `authenticator` and sets `ctx.state.auth`.
 * A failure is answered at once with the status, `WWW-Authenticate` and problem+json body that core
 * renders; nothing downstream runs, and nothing is thrown to your error middleware.
 *
 * @example
 * app.use(authenticate(jwtBearer({ issuer, audience, algorithms: ['ES256'] }), { onDecision: log }))
 * @throws TypeError naming the option when an option is invalid
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function authenticate(authenticator: Authenticator, options: AuthenticateOptions = {}): Middleware {
  const { resolveOrigin, onDecision, realm } = adapterSettings(authenticator, options)

  // Not async: when the authenticator answers at once (a cache hit), the next middleware runs without a
  // promise of ours or a microtask.
  return function zeroTrustAuthenticate(ctx, next) {
    // `originalUrl`, not `url`: koa-mount and rewrites change `url`, and DPoP `htu` names what was sent.
    const view = fromNodeRequest(ctx.req, { resolveOrigin, target: ctx.originalUrl })
    // One context object per request, its `auth` filled in once known, rather than a second one then.
    const context: MutableContext = { view, onDecision, realm, auth: undefined }
    attachContext(ctx, context)
    const answer = runAuthentication(authenticator, view, onDecision)
    if (!(answer instanceof Promise)) return proceed(ctx, next, context, answer)
    return answer.then(
      (auth) => proceed(ctx, next, context, auth),
      (error: unknown) => {
        sendError(ctx, error, realm)
      },
    )
  }
}

function proceed(ctx: Context, next: Next, context: MutableContext, auth: Auth): Promise<unknown> {
  context.auth = auth
  ctx.state.auth = auth
  if (auth.responseHeaders !== undefined) setResponseHeaders(ctx, auth.responseHeaders)
  return next()
}
