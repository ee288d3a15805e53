import { createHash } from 'node:crypto'
import { ZeroTrustError } from '@zerotrust/core'
import { fetchBounded } from '@zerotrust/core/layer'
import { LRUCache } from 'lru-cache'
import * as oauth from 'oauth4webapi'
import { type IssuedToken, issuedToken, scopeList } from './lib/issued-token.js'
import { type TokenExchangeOptions, tokenExchangeSettings } from './lib/options.js'

/** What one exchanged token is for; each member replaces the client's default. */
export interface ExchangeRequest {
  /** RFC 8693 §2.1 `audience`: the logical name of the downstream service. */
  readonly audience?: string
  /** RFC 8707 `resource`: the downstream API's indicator. */
  readonly resource?: string
  /** The scopes asked for; the authorization server gives at most the subject token's. */
  readonly scope?: string | readonly string[]
}

/** The client of {@link tokenExchange}. */
export interface TokenExchange {
  readonly issuer: string
  /**
   * A token for one downstream service in exchange for `subjectToken`, the user's access token as the
   * edge received (and verified) it. Cached per subject token, audience, resource and scope until
   * shortly before it expires; concurrent calls for the same one share one request.
   *
   * @throws ZeroTrustError 503 `dependency_unavailable` (`exchange_unavailable`, `exchange_malformed`)
   *   when the authorization server fails or answers no usable token, 403 `insufficient_scope`
   *   (`scope_not_granted`) when it refuses the scope, 403 `access_denied` (`exchange_refused`) for any
   *   other refusal. Never the subject token in its place.
   */
  exchange(subjectToken: string, request?: ExchangeRequest): Promise<IssuedToken>
}

/** Largest answer read from the token endpoint. */
const maxAnswerBytes = 64 * 1024
/** Longest subject token taken: a token the edge verified is far smaller. */
const maxSubjectTokenLength = 16_384

const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token'
const grantType = 'urn:ietf:params:oauth:grant-type:token-exchange'

/**
 * RFC 8693 token exchange at the authorization server, on oauth4webapi: the edge sends the user's
 * access token as `subject_token` (and, optionally, its own credential as `actor_token`) and gets a token
 * for one downstream audience with narrowed scopes, carrying an `act` claim that names the edge.
 *
 * The user's token never travels further than the edge and the authorization server: when the exchange
 * fails, the call fails (503 with `Retry-After` for an outage), and the user's token is never sent on in
 * place of the exchanged one.
 *
 * @example
 * const exchange = tokenExchange({
 *   issuer: 'https://idp.example.com/',
 *   clientId: 'edge',
 *   auth: ClientSecretBasic(secrets.EDGE_CLIENT_SECRET.current()),
 * })
 * const token = await exchange.exchange(userToken, { resource: 'api://orders', scope: 'orders:read' })
 * @throws TypeError at construction when an option is invalid, naming it
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 */
export function tokenExchange(options: TokenExchangeOptions): TokenExchange {
  const settings = tokenExchangeSettings(options)
  const issuerUrl = new URL(settings.issuer)
  const client: oauth.Client = { client_id: settings.clientId }
  const requestOptions = {
    [oauth.customFetch]: boundedFetch,
    ...(issuerUrl.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {}),
  }
  const cache =
    settings.maxCachedTokens === 0
      ? undefined
      : new LRUCache<string, { token: IssuedToken; reuseUntil: number }>({ max: settings.maxCachedTokens })
  const inFlight = new Map<string, Promise<IssuedToken>>()
  let metadata: Promise<oauth.AuthorizationServer> | undefined

  async function boundedFetch(
    url: string,
    init: oauth.CustomFetchOptions<string, URLSearchParams | undefined>,
  ): Promise<Response> {
    const answer = await fetchBounded(url, {
      maxBytes: maxAnswerBytes,
      timeout: settings.timeout,
      method: init.method,
      headers: init.headers,
      ...(init.body === undefined ? {} : { body: init.body }),
      ...(init.signal ? { signal: init.signal } : {}),
    })
    const empty = answer.status === 204 || answer.status === 304 || answer.body.byteLength === 0
    return new Response(empty ? null : answer.body, { status: answer.status, headers: answer.headers })
  }

  function discover(): Promise<oauth.AuthorizationServer> {
    if (settings.tokenEndpoint !== undefined) {
      return Promise.resolve({ issuer: issuerUrl.href, token_endpoint: settings.tokenEndpoint })
    }
    metadata ??= (async () => {
      let response = await oauth.discoveryRequest(issuerUrl, { ...requestOptions, algorithm: 'oidc' })
      if (response.status === 404) {
        response = await oauth.discoveryRequest(issuerUrl, { ...requestOptions, algorithm: 'oauth2' })
      }
      return oauth.processDiscoveryResponse(issuerUrl, response)
    })()
    // A failed discovery is tried again by the next exchange.
    metadata.catch(() => {
      metadata = undefined
    })
    return metadata
  }

  async function request(
    subjectToken: string,
    audience: string | undefined,
    resource: string | undefined,
    scopes: readonly string[],
  ): Promise<IssuedToken> {
    const parameters = new URLSearchParams({
      subject_token: subjectToken,
      subject_token_type: accessTokenType,
    })
    parameters.set('requested_token_type', accessTokenType)
    if (audience !== undefined) parameters.set('audience', audience)
    if (resource !== undefined) parameters.set('resource', resource)
    if (scopes.length > 0) parameters.set('scope', scopes.join(' '))
    let answer: oauth.TokenEndpointResponse
    try {
      if (settings.actorToken !== undefined) {
        parameters.set('actor_token', await settings.actorToken())
        parameters.set('actor_token_type', settings.actorTokenType)
      }
      const as = await discover()
      const response = await oauth.genericTokenEndpointRequest(
        as,
        client,
        settings.auth,
        grantType,
        parameters,
        requestOptions,
      )
      answer = await oauth.processGenericTokenEndpointResponse(as, client, response)
    } catch (error) {
      throw exchangeError(error, settings.retryAfter)
    }
    // RFC 8693 §2.2.1: an access token was asked for; a bearer one is what downstream services take.
    const issuedType = (answer as { issued_token_type?: unknown }).issued_token_type
    if ((issuedType !== undefined && issuedType !== accessTokenType) || answer.token_type !== 'bearer') {
      throw malformed(settings.retryAfter)
    }
    const granted = typeof answer.scope === 'string' ? scopeList(answer.scope) : scopes
    // Never wider than asked: a server that grants more is not trusted with this call.
    if (scopes.length > 0 && granted.some((scope) => !scopes.includes(scope)))
      throw malformed(settings.retryAfter)
    const lifetime = typeof answer.expires_in === 'number' && answer.expires_in > 0 ? answer.expires_in : 0
    const target = audience ?? resource ?? ''
    return issuedToken(answer.access_token, Date.now() + lifetime * 1000, target, granted)
  }

  return Object.freeze({
    issuer: settings.issuer,
    exchange(subjectToken: string, request_: ExchangeRequest = {}): Promise<IssuedToken> {
      if (
        typeof subjectToken !== 'string' ||
        subjectToken === '' ||
        subjectToken.length > maxSubjectTokenLength
      ) {
        return Promise.reject(
          new ZeroTrustError('invalid_token', 'the subject token cannot be exchanged', {
            reason: 'exchange_refused',
          }),
        )
      }
      const audience = request_.audience ?? settings.audience
      const resource = request_.resource ?? settings.resource
      const scopes = scopeList(request_.scope)
      const key = `${createHash('sha256').update(subjectToken).digest('base64url')}\n${audience ?? ''}\n${
        resource ?? ''
      }\n${scopes.join(' ')}`
      const cached = cache?.get(key)
      if (cached !== undefined && cached.reuseUntil > Date.now()) return Promise.resolve(cached.token)
      const pending = inFlight.get(key)
      if (pending !== undefined) return pending
      const started = request(subjectToken, audience, resource, scopes)
        .then((token) => {
          const reuseUntil = token.expiresAt - settings.refreshBefore * 1000
          if (cache !== undefined && reuseUntil > Date.now()) {
            cache.set(key, { token, reuseUntil }, { ttl: reuseUntil - Date.now() })
          }
          return token
        })
        .finally(() => {
          inFlight.delete(key)
        })
      inFlight.set(key, started)
      return started
    },
  })
}

function malformed(retryAfter: number): ZeroTrustError {
  return new ZeroTrustError('dependency_unavailable', 'the token exchange answered no usable token', {
    reason: 'exchange_malformed',
    retryAfter,
  })
}

/** The error of a failed exchange, by the class and code of what failed, never its message. */
function exchangeError(error: unknown, retryAfter: number): ZeroTrustError {
  if (error instanceof oauth.ResponseBodyError || error instanceof oauth.WWWAuthenticateChallengeError) {
    if (error.status >= 500) {
      return new ZeroTrustError('dependency_unavailable', `the token exchange answered ${error.status}`, {
        reason: 'exchange_unavailable',
        retryAfter,
        cause: error,
      })
    }
    // RFC 6749 §5.2: invalid_scope is a scope the user was not granted.
    if (error instanceof oauth.ResponseBodyError && error.error === 'invalid_scope') {
      return new ZeroTrustError('insufficient_scope', 'the token exchange refused the requested scope', {
        reason: 'scope_not_granted',
        cause: error,
      })
    }
    return new ZeroTrustError('access_denied', 'the token exchange was refused', {
      reason: 'exchange_refused',
      cause: error,
    })
  }
  if (error instanceof oauth.OperationProcessingError) return malformed(retryAfter)
  if ((error as { code?: unknown } | null)?.code === 'ERR_FETCH_NOT_JSON') return malformed(retryAfter)
  return new ZeroTrustError('dependency_unavailable', 'the token exchange could not be reached', {
    reason: 'exchange_unavailable',
    retryAfter,
    cause: error,
  })
}
