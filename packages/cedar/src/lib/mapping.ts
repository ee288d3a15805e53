import type { Auth, RequestLike } from '@zerotrust/core'
import type { ContextPlan, ContextPlans } from './context-plan.js'
import type { CedarAuthorizerSettings, CedarValue, EntityRef } from './options.js'
import { checkRef, UnrepresentableValue } from './values.js'

/** The Cedar request of one HTTP request. */
export interface CedarRequest {
  readonly principal: EntityRef
  readonly action: EntityRef
  readonly resource: EntityRef
  readonly context: Record<string, CedarValue>
  /** The attributes of the `context` option, kept to build the context again under other plans. */
  readonly extra: Readonly<Record<string, CedarValue>> | undefined
}

/**
 * Raised when a request cannot be mapped: no principal, no route known to name the action, or a token
 * whose scopes are past the bounds.
 */
export class UnmappableRequest extends Error {
  override readonly name = 'UnmappableRequest'
  constructor(
    message: string,
    readonly reason: 'no_principal' | 'no_route' | 'too_many_scopes' | 'scope_too_long',
  ) {
    super(message)
  }
}

/**
 * The default principal: the user (`sub`) when the token speaks for one, else the OAuth client of a
 * client-credentials token (no `sub`, or `sub` equal to the client id, as RFC 9068 §2.2 has it), else
 * the workload proven without a token (`Workload::"spiffe://…"`). A workload beside a token is in the
 * context (`context.workload`), not the principal.
 */
function defaultPrincipal(settings: CedarAuthorizerSettings, auth: Auth): EntityRef {
  const { subject, clientId, workload } = auth
  if (workload !== undefined && auth.scheme === 'mtls')
    return { type: settings.types.workload, id: workload.id }
  if (subject !== undefined && subject !== '' && subject !== clientId)
    return { type: settings.types.user, id: subject }
  if (clientId !== undefined && clientId !== '') return { type: settings.types.client, id: clientId }
  if (subject !== undefined && subject !== '') return { type: settings.types.user, id: subject }
  throw new UnmappableRequest('the token names neither a subject nor a client', 'no_principal')
}

/**
 * The default action: the method and the matched route pattern, `GET /orders/:id`. Never the raw path,
 * which would make one action per order and let `/orders/7/` or `/Orders/7` slip past a policy. With
 * `headAsGet`, a `HEAD` request is the `GET` of its route.
 */
function defaultAction(settings: CedarAuthorizerSettings, req: RequestLike): EntityRef {
  if (req.route === undefined) {
    throw new UnmappableRequest(
      'the matched route is unknown: mount the cedar authorizer on routes, not before routing',
      'no_route',
    )
  }
  // RFC 9110 §9.3.2: HEAD is GET without the content, so the permission to read covers it.
  const method = settings.headAsGet && req.method === 'HEAD' ? 'GET' : req.method
  return { type: settings.types.action, id: `${method} ${req.route}` }
}

/** The default resource: the value of the route's last parameter, or the route pattern without one. */
export function defaultResource(settings: CedarAuthorizerSettings, req: RequestLike): EntityRef {
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

/**
 * The context: the default attributes `plan` carries, with the `context` option's attributes (`extra`)
 * merged over them.
 *
 * @throws UnmappableRequest when the scopes carried are past the bounds
 */
function buildContext(
  settings: CedarAuthorizerSettings,
  plan: ContextPlan,
  req: RequestLike,
  auth: Auth,
  extra: Readonly<Record<string, CedarValue>> | undefined,
): Record<string, CedarValue> {
  const context: Record<string, CedarValue> = {}
  if (plan.scopes) context.scopes = boundedScopes(settings, auth.scopes)
  if (plan.token !== undefined) {
    const token: Record<string, string> = {}
    for (const name of plan.token) token[name] = auth[name]
    context.token = token
  }
  if (plan.mtls) context.mtls = req.peerCertificate?.() !== undefined
  const workload = auth.workload
  if (plan.workload !== undefined && workload !== undefined) {
    const attributes: Record<string, string> = {}
    for (const name of plan.workload) attributes[name] = workload[name]
    context.workload = attributes
  }
  if (plan.params !== undefined) {
    const params = req.params
    if (plan.params === true) context.params = { ...params }
    else {
      const declared: Record<string, string> = {}
      for (const name of plan.params) {
        const value = params !== undefined && Object.hasOwn(params, name) ? params[name] : undefined
        if (value !== undefined) declared[name] = value
      }
      context.params = declared
    }
  }
  if (plan.clientId && auth.clientId !== undefined) context.clientId = auth.clientId
  if (plan.time) {
    const time = Math.floor(settings.now() / 1000)
    if (!Number.isSafeInteger(time)) {
      throw new UnrepresentableValue('context.time', 'is not an integer number of seconds')
    }
    context.time = time
  }
  // Checked with the rest of the context before it reaches the engine.
  if (extra !== undefined) Object.assign(context, extra)
  return context
}

/**
 * The token's scopes, within the bounds. Each scope costs the engine on every decision (a token of
 * 5,000 scopes took tens of milliseconds), and a token past the bounds is refused before any is copied.
 */
function boundedScopes(settings: CedarAuthorizerSettings, scopes: readonly string[]): readonly string[] {
  if (scopes.length > settings.maxScopes) {
    throw new UnmappableRequest(
      `the token carries ${scopes.length} scopes, more than "maxScopes" (${settings.maxScopes})`,
      'too_many_scopes',
    )
  }
  for (const scope of scopes) {
    if (typeof scope === 'string' && scope.length > settings.maxScopeLength) {
      throw new UnmappableRequest(
        `a scope of the token has ${scope.length} characters, more than "maxScopeLength" (${settings.maxScopeLength})`,
        'scope_too_long',
      )
    }
  }
  return scopes
}

function contextOption(
  settings: CedarAuthorizerSettings,
  req: RequestLike,
  auth: Auth,
): Readonly<Record<string, CedarValue>> | undefined {
  if (settings.context === undefined) return undefined
  const extra = settings.context(req, auth)
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
    throw new UnrepresentableValue('context', 'must be a record')
  }
  return extra
}

/**
 * Maps a request to Cedar with the configured overrides. The entity references are checked here; the
 * caller checks the context (`checkRecord`, or `decisionKey` for a cache key).
 *
 * @throws UnmappableRequest or UnrepresentableValue
 */
export function toCedarRequest(
  settings: CedarAuthorizerSettings,
  plans: ContextPlans,
  req: RequestLike,
  auth: Auth,
): CedarRequest {
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
  const extra = contextOption(settings, req, auth)
  const context = buildContext(settings, plans.forAction(action), req, auth, extra)
  return { principal, action, resource, context, extra }
}

/** The request with its context built again under `plans` (a reload changed the schema meanwhile). */
export function replan(
  settings: CedarAuthorizerSettings,
  plans: ContextPlans,
  request: CedarRequest,
  req: RequestLike,
  auth: Auth,
): CedarRequest {
  const context = buildContext(settings, plans.forAction(request.action), req, auth, request.extra)
  return { ...request, context }
}
