import { cedarAuthorizer } from '@zerotrust/cedar'
import { type Auth, isZeroTrustError, type RequestLike } from '@zerotrust/core'
import { describe, expect, it } from 'vitest'
import { actorContext } from './actor-chain.js'

// Issue 17: a downstream service's Cedar policy reads the actor chain of an internal or exchanged token.
// The rule: only the edge workload may act for users, directly; a token the edge's token was turned into
// by another workload, or one another workload minted, is denied.
const edge = 'spiffe://prod.example.com/ns/shop/sa/edge'
const orders = 'spiffe://prod.example.com/ns/shop/sa/orders'
const intruder = 'spiffe://prod.example.com/ns/shop/sa/intruder'

const policies = `
@id("only-the-edge-acts-for-users")
permit (principal is User, action == Action::"GET /orders/:id", resource)
when { context has actor && context.actor == "${edge}" };

@id("the-edge-somewhere-in-the-chain")
permit (principal is User, action == Action::"GET /receipts/:id", resource)
when { context.actors.contains("${edge}") };
`

const schema = `
type ActorContext = { actor?: String, actors: Set<String> };
entity User;
entity Resource;
action "GET /orders/:id" appliesTo { principal: [User], resource: [Resource], context: ActorContext };
action "GET /receipts/:id" appliesTo { principal: [User], resource: [Resource], context: ActorContext };
`

function routed(route: string, id: string): RequestLike {
  const path = route.replace(':id', id)
  return {
    method: 'GET',
    origin: 'https://billing.internal',
    target: path,
    path,
    route,
    params: Object.freeze({ id }),
    headerValues: () => [],
  }
}

/** The Auth of a token for alice, with this `act` claim. */
function actingFor(act: Record<string, unknown> | undefined): Auth {
  const claims = { sub: 'alice', client_id: 'web-app', ...(act === undefined ? {} : { act }) }
  return {
    subject: 'alice',
    issuer: 'https://edge.internal/',
    audience: ['api://billing'],
    clientId: 'web-app',
    scopes: [],
    claims,
    scheme: 'Bearer',
    format: 'jwt',
    expiresAt: undefined,
    cnf: undefined,
  }
}

describe('actorContext in a Cedar policy (issue 17)', () => {
  const withSchema = cedarAuthorizer({
    policies: { text: policies },
    schema: { text: schema },
    defaultContext: false,
    context: (_req, auth) => actorContext(auth),
  })
  const withoutSchema = cedarAuthorizer({
    policies: { text: policies },
    context: (_req, auth) => actorContext(auth),
  })

  it.each([
    ['with a schema', withSchema],
    ['without a schema', withoutSchema],
  ])('permits the edge acting for the user, and denies every other actor (%s)', async (_, authorizer) => {
    const decide = async (auth: Auth, route = '/orders/:id') =>
      (await authorizer.authorize(routed(route, '7'), auth)).allowed
    expect(await decide(actingFor({ sub: edge }))).toBe(true)
    // The edge's token turned into orders' own: orders acts now, the edge before it.
    expect(await decide(actingFor({ sub: orders, act: { sub: edge } }))).toBe(false)
    expect(await decide(actingFor({ sub: intruder }))).toBe(false)
    // The user's own token, nobody acting.
    expect(await decide(actingFor(undefined))).toBe(false)
    // A policy that reads the whole chain: the edge anywhere in it.
    expect(await decide(actingFor({ sub: orders, act: { sub: edge } }), '/receipts/:id')).toBe(true)
    expect(await decide(actingFor({ sub: intruder }), '/receipts/:id')).toBe(false)
  })

  it('names the policy that allowed, and denies with 403 access_denied', async () => {
    const allowed = await withSchema.authorize(routed('/orders/:id', '7'), actingFor({ sub: edge }))
    expect(allowed).toMatchObject({ allowed: true, policies: ['only-the-edge-acts-for-users'] })
    const denied = await withSchema.authorize(routed('/orders/:id', '7'), actingFor({ sub: intruder }))
    expect(denied.allowed).toBe(false)
    if (!denied.allowed) {
      expect({ code: denied.error.code, status: denied.error.status }).toEqual({
        code: 'access_denied',
        status: 403,
      })
    }
  })

  it('reads the chain current actor first, bounded, and refuses a malformed act', () => {
    expect(actorContext(actingFor({ sub: orders, act: { sub: edge } }))).toEqual({
      actor: orders,
      actors: [orders, edge],
    })
    expect(actorContext(actingFor(undefined))).toEqual({ actors: [] })
    expect(actorContext(undefined)).toEqual({ actors: [] })
    let deep: Record<string, unknown> = { sub: edge }
    for (let i = 0; i < 3; i++) deep = { sub: `${orders}-${i}`, act: deep }
    const tooDeep = (() => {
      try {
        actorContext(actingFor(deep), 3)
      } catch (error) {
        return isZeroTrustError(error) ? { code: error.code, reason: error.reason } : error
      }
      return undefined
    })()
    expect(tooDeep).toEqual({ code: 'invalid_token', reason: 'actor_chain_too_deep' })
    expect(() => actorContext(actingFor({ sub: 7 }))).toThrow(
      expect.objectContaining({ reason: 'malformed_actor' }),
    )
  })
})
