import { type Auth, type Authorizer, type DecisionSink, type RequestLike, renderError } from '@zerotrust/core'
import { type AdapterContext, exposeHeaders, reportRendered, toZeroTrustError } from '@zerotrust/core/adapter'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * What the plugin's `onRequest` hook leaves for the hooks after it on the same request. One object per
 * request, built before authentication; `auth` is set once the authenticator has answered.
 */
export class RequestState implements AdapterContext {
  /** The `Auth` of the request; authorizers read it here, where other hooks cannot overwrite it. */
  auth: Auth | undefined = undefined

  constructor(
    readonly view: RequestLike,
    readonly onDecision: DecisionSink | undefined,
    readonly realm: string | undefined,
    /** The route's authorizers from its `config.zeroTrust`, built once when the route was declared. */
    readonly authorizers: readonly Authorizer[],
  ) {}
}

/** The authorizers of a request whose route plan could not be built: none, it is answered with a 500. */
export const noAuthorizers: readonly Authorizer[] = Object.freeze([])

/** The request property that holds the {@link RequestState}, set by the plugin's `onRequest` hook. */
const kState: unique symbol = Symbol('zerotrust.state')

interface StatefulRequest {
  [kState]?: RequestState
}

/** The state the plugin left on `request`; `undefined` when the plugin did not run for it. */
export function stateOf(request: FastifyRequest): RequestState | undefined {
  return (request as StatefulRequest)[kState]
}

/**
 * Declares the state's property on every request of `fastify`, so Fastify's request constructor sets it
 * and the plugin's hook only assigns it: adding a property to a built request would move each request
 * to another hidden class on the hot path.
 */
export function decorateState(fastify: FastifyInstance): void {
  fastify.decorateRequest(kState, undefined)
}

/** Leaves `state` on `request` for the hooks after the plugin's. */
export function setState(request: FastifyRequest, state: RequestState): void {
  ;(request as StatefulRequest)[kState] = state
}

/**
 * Sends any error as core renders it: status, headers (with the problem's content type), body. The
 * error is reported as one decision event under `layer` unless a layer already reported it, so every
 * answer yields one event.
 */
export function sendError(
  reply: FastifyReply,
  error: unknown,
  realm: string | undefined,
  layer?: string,
): FastifyReply {
  const err = toZeroTrustError(error)
  reportRendered(stateOf(reply.request), err, layer)
  // What a CORS plugin already exposed stays in the list.
  const rendered = renderError(err, { realm, exposed: reply.getHeader(expose) })
  // A Buffer, not the string: Fastify appends `; charset=utf-8` to a string's content type, and an
  // error must leave every adapter as the same bytes (issue 20).
  return reply.code(rendered.status).headers(rendered.headers).send(Buffer.from(rendered.body))
}

const expose = 'access-control-expose-headers'

/** Sets the headers an authenticator asked for on success (`DPoP-Nonce`), exposed to CORS clients. */
export function setResponseHeaders(reply: FastifyReply, headers: Readonly<Record<string, string>>): void {
  reply.headers(headers)
  reply.header(expose, exposeHeaders(reply.getHeader(expose), Object.keys(headers)))
}
