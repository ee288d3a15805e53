import type { Authenticator, RequestLike } from '@zerotrust/core'
import {
  type AdapterOptions,
  adapterSettings,
  fromNodeRequest,
  optionError,
  runAuthentication,
  runAuthorization,
} from '@zerotrust/core/adapter'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { routedView } from './authorize.js'
import {
  noAuthorizers,
  RequestState,
  sendError,
  setResponseHeaders,
  setState,
  stateOf,
} from './lib/context.js'
import { errorHandler } from './lib/error-handler.js'
import { buildRoutePlan, routeName, routePlan, withPlan } from './lib/route-plan.js'

/**
 * Options of the {@link zeroTrust} plugin: the authenticator, and the options every zerotrust adapter
 * takes (`publicOrigin`, `trustProxy`, `onDecision`, `realm`).
 */
export interface ZeroTrustOptions extends AdapterOptions {
  /** Turns each request's credentials into an `Auth`, such as `jwtBearer(...)`. */
  readonly authenticator: Authenticator
}

// Async, so that a mistake rejects `app.register()` and `app.ready()` (avvio lets a synchronous throw escape).
async function zeroTrustPlugin(fastify: FastifyInstance, options: ZeroTrustOptions): Promise<void> {
  if (typeof options?.authenticator?.authenticate !== 'function') {
    throw optionError('zeroTrust', 'authenticator', 'must be an authenticator, such as jwtBearer(...)')
  }
  const { authenticator, ...adapterOptions } = options
  const { resolveOrigin, onDecision, realm } = adapterSettings(authenticator, adapterOptions, 'zeroTrust')
  if (fastify.hasRequestDecorator('auth')) {
    throw new Error(
      '"request.auth" is already decorated: register @zerotrust/fastify once, in the scope of the routes it protects',
    )
  }

  // Fastify decorations must start as null or a primitive, never a shared object. The request state is
  // no decoration: Fastify's constructor would set it on every request, even where the plugin never runs.
  fastify.decorateRequest('auth', undefined)

  fastify.addHook('onRoute', function zeroTrustRoute(route) {
    // Checked and built once, here: a mistake throws from app.get() / app.route() at startup.
    const plan = buildRoutePlan(route.config?.zeroTrust, routeName(route.method, route.url))
    route.config = withPlan(route.config, plan)
    route.errorHandler = errorHandler(route.errorHandler, realm)
  })

  // Both hooks take Fastify's callback form: an async hook costs Fastify a promise and a `then` per
  // request on top of ours (benchmarks/RESULTS.md, "HTTP overhead per framework").
  fastify.addHook('onRequest', function zeroTrustAuthenticate(request, reply, done) {
    const plan = routePlan(request)
    if (plan === false) {
      done()
      return
    }
    const view = fromNodeRequest(request.raw, { resolveOrigin, target: request.originalUrl })
    if (plan instanceof TypeError) {
      // A route whose `config.zeroTrust` is wrong fails closed (500), reported as the adapter's decision.
      setState(request, new RequestState(view, onDecision, realm, noAuthorizers))
      sendError(reply, plan, realm, 'fastify')
      return
    }
    const state = new RequestState(view, onDecision, realm, plan)
    setState(request, state)
    runAuthentication(authenticator, view, onDecision).then(
      (auth) => {
        try {
          // Authorizers read the state's auth, which other hooks cannot overwrite the way `request.auth` can.
          state.auth = auth
          request.auth = auth
          if (auth.responseHeaders !== undefined) setResponseHeaders(reply, auth.responseHeaders)
        } catch (error) {
          done(error as Error)
          return
        }
        done()
      },
      (error: unknown) => {
        // Answered here; not calling `done` ends the request's hooks (Fastify's callback hook contract).
        try {
          sendError(reply, error, realm)
        } catch (failure) {
          done(failure as Error)
        }
      },
    )
  })

  fastify.addHook('preHandler', function zeroTrustAuthorize(request, reply, done) {
    const state = stateOf(request)
    if (state === undefined || state.authorizers.length === 0) {
      done()
      return
    }
    authorizeInTurn(state, routedView(state.view, request), reply).then(
      (answered) => {
        if (!answered) done()
      },
      (error: unknown) => done(error as Error),
    )
  })
}

// Runs the route's authorizers in order; resolves `true` once a denial has been answered.
async function authorizeInTurn(
  state: RequestState,
  view: RequestLike,
  reply: FastifyReply,
): Promise<boolean> {
  for (const authorizer of state.authorizers) {
    let headers: Readonly<Record<string, string>> | undefined
    try {
      headers = await runAuthorization(authorizer, view, state.auth, state.onDecision)
    } catch (error) {
      sendError(reply, error, state.realm)
      return true
    }
    if (headers !== undefined) setResponseHeaders(reply, headers)
  }
  return false
}

/**
 * The Fastify 5 plugin of zerotrust. Registered once, it authenticates every request of its scope in an
 * `onRequest` hook (before the body is read) and sets `request.auth`; each route's `config.zeroTrust`
 * adds scope checks and authorizers (run in `preHandler`) or, as `false`, opts the route out. A failure
 * is answered at once with the status, `WWW-Authenticate` and problem+json body core renders, and a
 * `ZeroTrustError` thrown by a handler is rendered the same way.
 *
 * @example
 * await app.register(zeroTrust, { authenticator: jwtBearer({ issuer, audience, algorithms: ['ES256'] }) })
 * app.get('/health', { config: { zeroTrust: false } }, () => ({ ok: true }))
 * app.post('/orders', { config: { zeroTrust: { scopes: 'orders:write' } } }, createOrder)
 * @throws TypeError naming the option when an option or a route's `config.zeroTrust` is invalid
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export const zeroTrust: FastifyPluginAsync<ZeroTrustOptions> = fp(zeroTrustPlugin, {
  name: '@zerotrust/fastify',
  fastify: '5.x',
})
