import type { Auth, Authenticator } from '@zerotrust/core'
import {
  type AdapterContext,
  type AdapterOptions,
  adapterSettings,
  attachContext,
  fromNodeRequest,
  runAuthentication,
} from '@zerotrust/core/adapter'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { sendError, setResponseHeaders } from './lib/context.js'

type MutableContext = { -readonly [K in keyof AdapterContext]: AdapterContext[K] }

/** Options of {@link authenticate}: `publicOrigin`, `trustProxy`, `onDecision`, `realm`. */
export type AuthenticateOptions = AdapterOptions

/**
 * Express middleware that authenticates every request with `authenticator` and sets `req.auth`.
 * A failure is answered at once with the status, `WWW-Authenticate` and problem+json body that core
 * renders; the route handler never runs.
 *
 * @example
 * app.use(authenticate(jwtBearer({ issuer, audience, algorithms: ['ES256'] }), { onDecision: log }))
 * @throws TypeError naming the option when an option is invalid
 */
export function authenticate(
  authenticator: Authenticator,
  options: AuthenticateOptions = {},
): RequestHandler {
  const { resolveOrigin, onDecision, realm } = adapterSettings(authenticator, options)

  // Not async: when the authenticator answers at once (a cache hit), `next()` runs without a promise or
  // a microtask. Otherwise the promise goes back to Express 5, which hands a failure to `next(error)`.
  return function zeroTrustAuthenticate(req: Request, res: Response, next: NextFunction) {
    const view = fromNodeRequest(req, { resolveOrigin, target: req.originalUrl })
    // One context object per request, its `auth` filled in once known, rather than a second one then.
    const context: MutableContext = { view, onDecision, realm, auth: undefined }
    attachContext(req, context)
    const answer = runAuthentication(authenticator, view, onDecision)
    if (!(answer instanceof Promise)) return proceed(req, res, next, context, answer)
    return answer.then(
      (auth) => proceed(req, res, next, context, auth),
      (error: unknown) => {
        sendError(res, error, realm)
      },
    )
  }
}

function proceed(req: Request, res: Response, next: NextFunction, context: MutableContext, auth: Auth): void {
  context.auth = auth
  req.auth = auth
  if (auth.responseHeaders !== undefined) setResponseHeaders(res, auth.responseHeaders)
  next()
}
