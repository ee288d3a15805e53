// The RFC 8693 token exchange grant of the testkit's authorization server, registered on oidc-provider
// with `registerGrantType`. oidc-provider authenticates the client and checks that the grant is allowed
// for it; this handler does what the RFC asks of the server: checks `subject_token_type`, validates the
// subject token (a JWT access token this server signed, unexpired), applies the audience policy, narrows
// the scope to what the subject token carries, and issues an RFC 9068 JWT with the `act` claim (§4.1)
// naming the client that exchanged it, in front of any earlier actor.
import { randomUUID } from 'node:crypto'
import { createLocalJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify, SignJWT } from 'jose'
import type { KoaContextWithOIDC } from 'oidc-provider'
import type { SigningKey } from '../keys.js'

/** RFC 8693 §3: the token type identifiers the grant takes and issues. */
export const tokenTypes = Object.freeze({
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
})

export const tokenExchangeGrantType = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** RFC 8693 §2.1: the request parameters, besides `grant_type`. */
export const tokenExchangeParameters = new Set([
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'audience',
  'resource',
  'scope',
])

/** A resource tokens can be exchanged for. */
export interface ExchangeTarget {
  readonly indicator: string
  readonly audience: string
  readonly scope: readonly string[]
  readonly ttl: number
}

export interface ExchangeGrantSettings {
  readonly issuer: () => string
  readonly key: SigningKey
  readonly jwks: JSONWebKeySet
  readonly targets: readonly ExchangeTarget[]
  /** Which targets (by indicator) each client may exchange for; a client absent here may ask for any. */
  readonly allowed: ReadonlyMap<string, ReadonlySet<string>>
  readonly errors: {
    InvalidRequest: new (description: string) => Error
    InvalidTarget: new (description?: string) => Error
    InvalidScope: new (description: string, scope: string) => Error
  }
}

/** The grant handler: what oidc-provider calls once the client is authenticated and allowed the grant. */
export function tokenExchangeHandler(settings: ExchangeGrantSettings) {
  const keys = createLocalJWKSet(settings.jwks)
  const { InvalidRequest, InvalidTarget, InvalidScope } = settings.errors

  async function verify(token: string, what: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, keys, { issuer: settings.issuer(), typ: 'at+jwt' })
      return payload
    } catch {
      // RFC 8693 §2.2.2: an invalid subject or actor token is invalid_request.
      throw new InvalidRequest(`the ${what} is invalid`)
    }
  }

  return async function tokenExchange(ctx: KoaContextWithOIDC): Promise<void> {
    const params = ctx.oidc.params as Record<string, string | undefined>
    const client = ctx.oidc.client
    if (client === undefined) throw new InvalidRequest('the client is not authenticated')
    if (params.subject_token === undefined) throw new InvalidRequest('missing "subject_token"')
    if (params.subject_token_type !== tokenTypes.accessToken) {
      throw new InvalidRequest('"subject_token_type" must be urn:ietf:params:oauth:token-type:access_token')
    }
    if (params.requested_token_type !== undefined && params.requested_token_type !== tokenTypes.accessToken) {
      throw new InvalidRequest('only access tokens are issued')
    }
    if ((params.actor_token === undefined) !== (params.actor_token_type === undefined)) {
      throw new InvalidRequest('"actor_token" and "actor_token_type" go together')
    }
    const subject = await verify(params.subject_token, 'subject token')
    if (typeof subject.sub !== 'string') throw new InvalidRequest('the subject token names no subject')

    // The actor: the client that exchanges, or the subject of its own actor token.
    let actor = client.clientId
    if (params.actor_token !== undefined) {
      const actorToken = await verify(params.actor_token, 'actor token')
      if (typeof actorToken.sub !== 'string') throw new InvalidRequest('the actor token names no subject')
      actor = actorToken.sub
    }
    // RFC 8693 §4.4: `may_act` names who may act for the subject.
    const mayAct = subject.may_act as { sub?: unknown } | undefined
    if (mayAct !== undefined && mayAct.sub !== actor) {
      throw new InvalidRequest('the actor may not act for this subject')
    }

    // RFC 8693 §2.1: `resource` (RFC 8707) or `audience` names the target; invalid_target otherwise.
    const target = settings.targets.find((candidate) =>
      params.resource !== undefined
        ? candidate.indicator === params.resource
        : params.audience !== undefined &&
          (candidate.audience === params.audience || candidate.indicator === params.audience),
    )
    if (target === undefined) throw new InvalidTarget('no such resource or audience')
    const allowed = settings.allowed.get(client.clientId)
    if (allowed !== undefined && !allowed.has(target.indicator)) {
      throw new InvalidTarget('this client may not exchange tokens for that audience')
    }

    // Narrowed: never a scope the subject token lacks, only scopes of the target.
    const held = typeof subject.scope === 'string' ? subject.scope.split(' ').filter(Boolean) : []
    const asked = params.scope === undefined ? undefined : params.scope.split(' ').filter(Boolean)
    if (asked !== undefined) {
      const excess = asked.filter((scope) => !held.includes(scope) || !target.scope.includes(scope))
      if (excess.length > 0)
        throw new InvalidScope('the requested scope exceeds the subject token', excess.join(' '))
    }
    const scopes = asked ?? held.filter((scope) => target.scope.includes(scope))

    const now = Math.floor(Date.now() / 1000)
    const exp = typeof subject.exp === 'number' ? Math.min(subject.exp, now + target.ttl) : now + target.ttl
    const act =
      subject.act === undefined ? { sub: actor } : { sub: actor, act: subject.act as Record<string, unknown> }
    const claims: JWTPayload = {
      sub: subject.sub,
      aud: target.audience,
      client_id: client.clientId,
      act,
      jti: randomUUID(),
      ...(scopes.length === 0 ? {} : { scope: scopes.join(' ') }),
    }
    const accessToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: settings.key.alg, kid: settings.key.kid, typ: 'at+jwt' })
      .setIssuer(settings.issuer())
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(settings.key.privateKey)
    ctx.body = {
      access_token: accessToken,
      issued_token_type: tokenTypes.accessToken,
      token_type: 'Bearer',
      expires_in: exp - now,
      ...(scopes.length === 0 ? {} : { scope: scopes.join(' ') }),
    }
  }
}
