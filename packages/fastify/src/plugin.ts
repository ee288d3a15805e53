import type { Auth, Authenticator, Authorizer, RequestLike } from '@zerotrust/core'
import {
  type AdapterOptions,
  type AllowedHeaders,
  adapterSettings,
  fromNodeRequest,
  optionError,
  runAuthentication,
  runAuthorization,
} from '@zerotrust/core/adapter'
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify'
import fp from 'fastify-plugin'
import { routedView } from './authorize.js'
import {
  decorateState,
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

  // Fastify decorations must start as null or a primitive, never a shared object.
  fastify.decorateRequest('auth', undefined)
  decorateState(fastify)

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
    const answer = runAuthentication(authenticator, view, onDecision)
    // A cache hit answers at once: the hook finishes without a promise or a microtask.
    if (!(answer instanceof Promise)) {
      authenticated(request, reply, state, answer, done)
      return
    }
    answer.then(
      (auth) => authenticated(request, reply, state, auth, done),
      (error: unknown) => refuse(error, state, reply, done),
    )
  })

  fastify.addHook('preHandler', function zeroTrustAuthorize(request, reply, done) {
    const state = stateOf(request)
    if (state === undefined || state.authorizers.length === 0) {
      done()
      return
    }
    authorizeFrom(0, state, routedView(state.view, request), reply, done)
  })
}

function authenticated(
  request: FastifyRequest,
  reply: FastifyReply,
  state: RequestState,
  auth: Auth,
  done: HookHandlerDoneFunction,
): void {
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
}

// Runs the route's authorizers in order from the `first`, synchronously while each answers at once, and
// calls `done` once all allowed; a denial is answered here, and `done` is then not called.
function authorizeFrom(
  first: number,
  state: RequestState,
  view: RequestLike,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const { authorizers } = state
  for (let i = first; i < authorizers.length; i++) {
    const answer = runAuthorization(authorizers[i] as Authorizer, view, state.auth, state.onDecision)
    if (answer instanceof Promise) {
      answer.then(
        (headers) => {
          if (allowed(headers, reply, done)) authorizeFrom(i + 1, state, view, reply, done)
        },
        (error: unknown) => refuse(error, state, reply, done),
      )
      return
    }
    if (!allowed(answer, reply, done)) return
  }
  done()
}

// Sets an allowed decision's headers; `false` when setting them failed and `done` took the error.
function allowed(headers: AllowedHeaders, reply: FastifyReply, done: HookHandlerDoneFunction): boolean {
  if (headers === undefined) return true
  try {
    setResponseHeaders(reply, headers)
    return true
  } catch (error) {
    done(error as Error)
    return false
  }
}

// Answers a refusal; not calling `done` then ends the request's hooks (Fastify's callback hook contract).
function refuse(
  error: unknown,
  state: RequestState,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  try {
    sendError(reply, error, state.realm)
  } catch (failure) {
    done(failure as Error)
  }
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
