import { type Auth, ZeroTrustError } from '@zerotrust/core'

/** One actor of an `act` chain (RFC 8693 §4.1): a party that acts for the token's subject. */
export interface Actor {
  /** The actor's `sub`: for internal tokens, the SPIFFE ID of the workload that minted the token. */
  readonly sub: string
  /** The actor's `iss`, when the chain names one. */
  readonly iss: string | undefined
}

/** Deepest chain {@link actorChain} reads when no bound is given. */
export const defaultMaxActorDepth = 8

const noActors: readonly Actor[] = Object.freeze([])

/** Most actors any chain may hold, whatever bound is given: a nesting deeper than this is an attack. */
const hardMaxActorDepth = 32

/**
 * The actor chain of a token's `act` claim (RFC 8693 §4.1), current actor first: `[orders, edge]` for a
 * token orders minted on behalf of a user whose token the edge had turned into an internal one. Empty
 * for a token without `act`, or no `Auth` at all. The chain is read iteratively and bounded, never recursively.
 *
 * @example
 * const [caller] = actorChain(req.auth) // { sub: 'spiffe://prod.example.com/ns/shop/sa/edge', iss: undefined }
 * @throws ZeroTrustError 401 `invalid_token`: `malformed_actor` when an `act` is not an object with a
 *   string `sub`, `actor_chain_too_deep` when the chain holds more than `maxDepth` actors
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-4.1
 */
export function actorChain(
  auth: Auth | undefined,
  maxDepth: number = defaultMaxActorDepth,
): readonly Actor[] {
  if (auth?.claims.act === undefined) return noActors
  const bound = Math.min(maxDepth, hardMaxActorDepth)
  const chain: Actor[] = []
  let act: unknown = auth.claims.act
  while (act !== undefined) {
    if (chain.length >= bound) {
      throw new ZeroTrustError('invalid_token', `the "act" claim names more than ${bound} actors`, {
        reason: 'actor_chain_too_deep',
      })
    }
    if (typeof act !== 'object' || act === null || Array.isArray(act)) throw malformed()
    const { sub, iss } = act as { sub?: unknown; iss?: unknown }
    if (typeof sub !== 'string' || sub === '' || (iss !== undefined && typeof iss !== 'string')) {
      throw malformed()
    }
    chain.push(Object.freeze({ sub, iss: iss as string | undefined }))
    act = (act as { act?: unknown }).act
  }
  return Object.freeze(chain)
}

function malformed(): ZeroTrustError {
  return new ZeroTrustError('invalid_token', 'the "act" claim is malformed', { reason: 'malformed_actor' })
}

/**
 * The actor chain as context attributes of an authorization policy: see {@link actorContext}. A type,
 * not an interface, so it is a record of Cedar values where `cedarAuthorizer`'s `context` wants one.
 */
export type ActorContext = {
  /** The current actor's `sub`: the workload that sent this token on, in front of the chain. */
  readonly actor?: string
  /** Every actor's `sub`, the current one first; empty for a token nobody acted on. */
  readonly actors: readonly string[]
}

/**
 * The `act` chain (RFC 8693 §4.1) as policy context: `actor`, the workload that acts for the user now
 * (absent when nobody does), and `actors`, every actor of the chain. For Cedar, merge it into the
 * context with `cedarAuthorizer`'s `context` option; Cedar's sets have no order, hence `actor` beside
 * `actors`. Bounded as {@link actorChain} is.
 *
 * @example
 * const policies = cedarAuthorizer({ policies, context: (_req, auth) => actorContext(auth) })
 * // permit (principal is User, action, resource) when { context has actor && context.actor == "spiffe://…/edge" };
 * @throws ZeroTrustError 401 `invalid_token` (`malformed_actor`, `actor_chain_too_deep`), as {@link actorChain}
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-4.1
 */
export function actorContext(auth: Auth | undefined, maxDepth: number = defaultMaxActorDepth): ActorContext {
  const chain = actorChain(auth, maxDepth)
  const actors = Object.freeze(chain.map((actor) => actor.sub))
  const current = actors[0]
  return Object.freeze(current === undefined ? { actors } : { actor: current, actors })
}
