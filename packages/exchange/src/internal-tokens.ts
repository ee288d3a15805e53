import { createHash, randomUUID, X509Certificate } from 'node:crypto'
import { type Auth, ZeroTrustError } from '@zerotrust/core'
import { LRUCache } from 'lru-cache'
import { type Actor, actorChain } from './actor-chain.js'
import { type IssuedToken, issuedToken, scopeList } from './lib/issued-token.js'
import { type JsonWebKeySet, KeyRing } from './lib/keys.js'
import { type InternalTokensOptions, internalTokensSettings } from './lib/options.js'

export type { JsonWebKeySet } from './lib/keys.js'

/** What one internal token is for. */
export interface MintRequest {
  /** The downstream service's audience, such as `api://billing`: the `aud` of the token. */
  readonly audience: string
  /**
   * The scopes the downstream call needs, each one of the user's (`auth.scopes`); none by default. A
   * scope the user does not hold is refused, never dropped.
   */
  readonly scope?: string | readonly string[]
  /** An aborted signal refuses the mint with its reason; minting itself never waits. */
  readonly signal?: AbortSignal
}

/** The minter of {@link internalTokens}. */
export interface InternalTokens {
  /** The `iss` of the tokens: configure downstream `jwtBearer({ issuer })` with it. */
  readonly issuer: string
  /**
   * A token for `request.audience` on behalf of the user `auth` speaks for; a fresh one minted for the
   * same user, audience and scopes is handed out again.
   *
   * @throws ZeroTrustError 403 `insufficient_scope` (`scope_not_granted`), 401 `invalid_token`
   *   (`no_subject`, `subject_expired`, `actor_chain_too_deep`, `malformed_actor`), 500 `internal_error`
   *   (`audience_not_allowed`; `no_subject` when `auth` is `undefined`: no `authenticate` ran), 503
   *   `dependency_unavailable` (`signing_key_unavailable`)
   */
  mint(auth: Auth | undefined, request: MintRequest): IssuedToken
  /** The published keys (RFC 7517 §5): the current key first, then replaced keys within their overlap. */
  jwks(): JsonWebKeySet
  /**
   * A framework-free JWKS endpoint: `GET` (and `HEAD`) answer the set as `application/jwk-set+json`,
   * other methods 405. Mount it at the `jwksUri` downstream services are given.
   */
  jwksHandler(request?: { readonly method?: string }): Response
  /** Stops following the key source's rotations. */
  close(): void
}

/**
 * Mints short-lived internal access tokens at the edge: the user's token is validated once there, and
 * each downstream service gets a JWT for its own audience alone, with the user's scopes narrowed to what
 * the call needs, an `act` chain (RFC 8693 §4.1) naming this workload before earlier actors, and
 * optionally a binding to this workload's certificate (`cnf["x5t#S256"]`, RFC 8705 §3).
 *
 * Claims: `iss` (the `issuer` option), `sub` (the user), `aud`, `client_id` (the user's client, kept from
 * the original token), `original_iss` (the original token's issuer), `scope`, `act`, `jti`, `iat`, `exp`
 * (`ttlSeconds` ahead, never past the original token's `exp`), and `cnf` with `bindTo`. The header is
 * `typ: at+jwt` (RFC 9068), so downstream `jwtBearer({ issuer, audience, jwksUri })` verifies it with
 * its defaults.
 *
 * @example
 * const secrets = await loadSecrets({ schema: z.object({ EDGE_SIGNING_KEY: z.string() }), sources: [files({ directory })] })
 * const internal = internalTokens({
 *   issuer: 'https://edge.internal/',
 *   keys: secrets.EDGE_SIGNING_KEY,
 *   actor: 'spiffe://prod.example.com/ns/shop/sa/edge',
 * })
 * app.get('/.well-known/jwks.json', (_req, res) => res.json(internal.jwks()))
 * const token = internal.mint(req.auth, { audience: 'api://orders', scope: 'orders:read' })
 * @throws TypeError at construction when an option is invalid, naming it
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
export function internalTokens(options: InternalTokensOptions): InternalTokens {
  const settings = internalTokensSettings(options)
  const ring = new KeyRing(settings.keys, settings.algorithm, settings.overlap, settings.onError)
  const ttl = settings.ttl
  // A token is handed out again only while a quarter of its lifetime (5 s at least) remains, so a
  // downstream service never receives one about to expire on the way.
  const margin = Math.max(5, Math.ceil(ttl / 4))
  const cache =
    settings.maxCachedTokens === 0
      ? undefined
      : new LRUCache<string, Minted>({ max: settings.maxCachedTokens })
  let certificate: { pem: string; x5t: string } | undefined
  // The claims' JSON is written directly rather than through an object: its constant head,
  // `{"iss":…,`, is padded with spaces (JSON whitespace) to a multiple of 3 bytes, so its base64url is
  // computed once here (base64 encodes each 3-byte group on its own) and a mint encodes only the rest.
  // What a mint costs beyond its signature is then a few string joins.
  const headJson = `{"iss":${JSON.stringify(settings.issuer)},`
  const head = Buffer.from(headJson + ' '.repeat((3 - (Buffer.byteLength(headJson) % 3)) % 3)).toString(
    'base64url',
  )
  let lastActor: { actor: string; json: string } | undefined

  /** The `act` claim's JSON: with no earlier actor, the same text for every mint. */
  function actJson(actor: string, earlier: readonly Actor[]): string {
    if (earlier.length > 0) return JSON.stringify(nest(actor, earlier))
    if (lastActor?.actor !== actor) lastActor = { actor, json: JSON.stringify({ sub: actor }) }
    return lastActor.json
  }

  /** The binding and actor of the moment: both follow the SVID as it rotates. */
  function self(): { x5t: string | undefined; actor: string } {
    if (settings.bindTo === undefined) return { x5t: undefined, actor: settings.actor as string }
    const svid = settings.bindTo.current()
    if (certificate?.pem !== svid.certificate) {
      certificate = { pem: svid.certificate, x5t: x5tS256(svid.certificate) }
    }
    const actor = settings.actor ?? svid.spiffeId
    if (actor === undefined) {
      throw new ZeroTrustError('internal_error', 'the SVID of "bindTo" names no SPIFFE ID to act as', {
        reason: 'no_subject',
      })
    }
    return { x5t: certificate.x5t, actor }
  }

  function mint(auth: Auth | undefined, request: MintRequest): IssuedToken {
    // Synchronous, so only an abort that came before the call can stop it.
    request.signal?.throwIfAborted()
    if (auth === undefined) {
      // A route without `authenticate` before it: the calling code's mistake, never the client's.
      throw new ZeroTrustError('internal_error', 'no authenticated user to act for', { reason: 'no_subject' })
    }
    const audience = request.audience
    if (typeof audience !== 'string' || audience === '' || settings.audiences?.has(audience) === false) {
      throw new ZeroTrustError('internal_error', 'internal tokens are not minted for this audience', {
        reason: 'audience_not_allowed',
      })
    }
    const subject = auth.subject
    if (subject === undefined || subject === '') {
      throw new ZeroTrustError('invalid_token', 'the token names no subject to act for', {
        reason: 'no_subject',
      })
    }
    const now = Math.floor(Date.now() / 1000)
    const userExp = auth.expiresAt
    if (userExp !== undefined && userExp <= now) {
      throw new ZeroTrustError('invalid_token', 'the token expired', { reason: 'subject_expired' })
    }
    const scopes = scopeList(request.scope)
    let missing: string[] | undefined
    for (const scope of scopes) {
      if (auth.scopes.includes(scope)) continue
      missing ??= []
      missing.push(scope)
    }
    if (missing !== undefined) {
      throw new ZeroTrustError('insufficient_scope', 'the user was not granted a scope the call needs', {
        reason: 'scope_not_granted',
        scope: missing,
      })
    }
    const me = self()
    const scope = scopes.join(' ')
    const key = cache === undefined ? '' : cacheKey(auth, subject, audience, scope, me.x5t)
    const cached = cache?.get(key)
    if (cached !== undefined && cached.reuseUntil > now && (userExp === undefined || cached.exp <= userExp)) {
      return cached.token
    }

    // The chain so far, bounded: this workload becomes the current actor in front of it.
    const earlier = actorChain(auth, settings.maxActorDepth - 1)
    const signing = ring.current()
    const exp = userExp === undefined ? now + ttl : Math.min(now + ttl, userExp)
    const originalIssuer =
      typeof auth.claims.original_iss === 'string' ? auth.claims.original_iss : auth.issuer
    // The rest of the claims after the constant head, each value through JSON.stringify.
    let rest = `"sub":${JSON.stringify(subject)},"aud":${JSON.stringify(audience)},"client_id":${JSON.stringify(
      auth.clientId ?? me.actor,
    )},"iat":${now},"exp":${exp},"jti":"${randomUUID()}","act":${actJson(me.actor, earlier)}`
    if (originalIssuer !== undefined) rest += `,"original_iss":${JSON.stringify(originalIssuer)}`
    if (scope !== '') rest += `,"scope":${JSON.stringify(scope)}`
    if (me.x5t !== undefined) rest += `,"cnf":{"x5t#S256":"${me.x5t}"}`
    const input = `${signing.headerPrefix}${head}${Buffer.from(`${rest}}`).toString('base64url')}`
    const value = `${input}.${signing.sign(input).toString('base64url')}`
    const token = issuedToken(value, exp * 1000, audience, scopes)
    const reuseUntil = exp - margin
    if (cache !== undefined && reuseUntil > now)
      cache.set(key, { token, exp, reuseUntil }, { ttl: (reuseUntil - now) * 1000 })
    return token
  }

  return Object.freeze({
    issuer: settings.issuer,
    mint,
    jwks: () => ring.jwks(),
    jwksHandler(request?: { readonly method?: string }): Response {
      const method = request?.method ?? 'GET'
      if (method !== 'GET' && method !== 'HEAD') {
        return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } })
      }
      return new Response(method === 'HEAD' ? null : JSON.stringify(ring.jwks()), {
        status: 200,
        headers: {
          'content-type': 'application/jwk-set+json',
          // Short: a rotated key is published on the next fetch, and unknown `kid`s refetch anyway.
          'cache-control': 'public, max-age=60',
        },
      })
    },
    close: () => ring.close(),
  })
}

interface Minted {
  readonly token: IssuedToken
  readonly exp: number
  readonly reuseUntil: number
}

/**
 * What a minted token is a function of, besides time and key: two requests with the same user, client,
 * earlier actors, audience, scopes and binding get the same claims, so they may share one token.
 */
function cacheKey(
  auth: Auth,
  subject: string,
  audience: string,
  scope: string,
  x5t: string | undefined,
): string {
  const act = auth.claims.act
  return `${auth.issuer ?? ''}\n${subject}\n${auth.clientId ?? ''}\n${audience}\n${scope}\n${x5t ?? ''}${
    act === undefined ? '' : `\n${JSON.stringify(act)}`
  }`
}

/** RFC 8693 §4.1: `{ sub: current, act: { sub: previous, act: … } }`, only `sub` and `iss` carried over. */
function nest(current: string, earlier: readonly Actor[]): Record<string, unknown> {
  let inner: Record<string, unknown> | undefined
  for (let i = earlier.length - 1; i >= 0; i--) {
    const actor = earlier[i] as Actor
    inner = {
      sub: actor.sub,
      ...(actor.iss === undefined ? {} : { iss: actor.iss }),
      ...(inner === undefined ? {} : { act: inner }),
    }
  }
  return inner === undefined ? { sub: current } : { sub: current, act: inner }
}

/** RFC 8705 §3.1: base64url SHA-256 of the DER of the first certificate of a PEM chain. */
function x5tS256(pem: string): string {
  const der = new X509Certificate(pem).raw
  return createHash('sha256').update(der).digest('base64url')
}
