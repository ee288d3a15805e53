import {
  type Authenticator,
  type DecisionSink,
  fromNodeRequest,
  type OriginOptions,
  originResolver,
  runAuthentication,
} from '@zerotrust/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { contexts, sendError } from './lib/context.js'

/** Options of {@link authenticate}. */
export interface AuthenticateOptions extends OriginOptions {
  /** Receives a decision event for every authentication and authorization of the request. */
  readonly onDecision?: DecisionSink
  /** The `realm` of challenges that do not name one. */
  readonly realm?: string
}

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
  if (typeof authenticator?.authenticate !== 'function') {
    throw new TypeError('authenticate() needs an authenticator, such as jwtBearer(...)')
  }
  if (options.onDecision !== undefined && typeof options.onDecision !== 'function') {
    throw new TypeError('"onDecision" option must be a function')
  }
  if (options.realm !== undefined && typeof options.realm !== 'string') {
    throw new TypeError('"realm" option must be a string')
  }
  const resolveOrigin = originResolver(options)
  const { onDecision, realm } = options

  return async function zeroTrustAuthenticate(req: Request, res: Response, next: NextFunction) {
    const view = fromNodeRequest(req, { resolveOrigin, target: req.originalUrl })
    contexts.set(req, { view, onDecision, realm })
    let auth: Awaited<ReturnType<Authenticator['authenticate']>>
    try {
      auth = await runAuthentication(authenticator, view, onDecision)
    } catch (error) {
      sendError(res, error, realm)
      return
    }
    req.auth = auth
    next()
  }
}
