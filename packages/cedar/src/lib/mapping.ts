import type { Auth, RequestLike } from '@zerotrust/core'
import type { CedarSettings, CedarValue, EntityRef } from './options.js'
import { checkRef, UnrepresentableValue } from './values.js'

/** The Cedar request of one HTTP request. */
export interface CedarRequest {
  readonly principal: EntityRef
  readonly action: EntityRef
  readonly resource: EntityRef
  readonly context: Record<string, CedarValue>
}

/** Raised when a request cannot be mapped: no principal, or no route known to name the action. */
export class UnmappableRequest extends Error {
  override readonly name = 'UnmappableRequest'
  constructor(
    message: string,
    readonly reason: 'no_principal' | 'no_route',
  ) {
    super(message)
  }
}

/**
 * The default principal: the user (`sub`) when the token speaks for one, else the OAuth client of a
 * client-credentials token (no `sub`, or `sub` equal to the client id, as RFC 9068 §2.2 has it).
 */
export function defaultPrincipal(settings: CedarSettings, auth: Auth): EntityRef {
  const { subject, clientId } = auth
  if (subject !== undefined && subject !== '' && subject !== clientId)
    return { type: settings.types.user, id: subject }
  if (clientId !== undefined && clientId !== '') return { type: settings.types.client, id: clientId }
  if (subject !== undefined && subject !== '') return { type: settings.types.user, id: subject }
  throw new UnmappableRequest('the token names neither a subject nor a client', 'no_principal')
}

/**
 * The default action: the method and the matched route pattern, `GET /orders/:id`. Never the raw path,
 * which would make one action per order and let `/orders/7/` or `/Orders/7` slip past a policy.
 */
export function defaultAction(settings: CedarSettings, req: RequestLike): EntityRef {
  if (req.route === undefined) {
    throw new UnmappableRequest(
      'the matched route is unknown: mount the cedar authorizer on routes, not before routing',
      'no_route',
    )
  }
  return { type: settings.types.action, id: `${req.method} ${req.route}` }
}

/** The default resource: the value of the route's last parameter, or the route pattern without one. */
export function defaultResource(settings: CedarSettings, req: RequestLike): EntityRef {
  const params = req.params
  let last: string | undefined
  if (params !== undefined) for (const key in params) last = params[key]
  if (last !== undefined) return { type: settings.types.resource, id: last }
  if (req.route === undefined) {
    throw new UnmappableRequest(
      'the matched route is unknown: mount the cedar authorizer on routes',
      'no_route',
    )
  }
  return { type: settings.types.resource, id: req.route }
}

/** The default context, with the caller's additions merged over it. */
export function buildContext(
  settings: CedarSettings,
  req: RequestLike,
  auth: Auth,
): Record<string, CedarValue> {
  const context: Record<string, CedarValue> = {
    scopes: auth.scopes as string[],
    token: { scheme: auth.scheme, format: auth.format },
    mtls: req.peerCertificate?.() !== undefined,
    params: { ...req.params },
  }
  if (auth.clientId !== undefined) context.clientId = auth.clientId
  if (settings.time) context.time = Math.floor(settings.now() / 1000)
  if (settings.context !== undefined) {
    const extra = settings.context(req, auth)
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
      throw new UnrepresentableValue('context', 'must be a record')
    }
    // Checked with the rest of the context before it reaches the engine.
    Object.assign(context, extra)
  }
  return context
}

/**
 * Maps a request to Cedar with the configured overrides. The entity references are checked here; the
 * caller checks the context (`checkRecord`, or `DecisionKey.record` for a cache key).
 *
 * @throws UnmappableRequest or UnrepresentableValue
 */
export function toCedarRequest(settings: CedarSettings, req: RequestLike, auth: Auth): CedarRequest {
  const principal =
    settings.principal === undefined
      ? defaultPrincipal(settings, auth)
      : checkRef(settings.principal(auth, req), 'principal')
  const action =
    settings.action === undefined
      ? defaultAction(settings, req)
      : checkRef(settings.action(req, auth), 'action')
  const resource =
    settings.resource === undefined
      ? defaultResource(settings, req)
      : checkRef(settings.resource(req, auth), 'resource')
  const context = buildContext(settings, req, auth)
  if (settings.time && !Number.isSafeInteger(context.time)) {
    throw new UnrepresentableValue('context.time', 'is not an integer number of seconds')
  }
  return { principal, action, resource, context }
}
