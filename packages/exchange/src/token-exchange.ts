import { createHash } from 'node:crypto'
import { type Auth, ZeroTrustError } from '@zerotrust/core'
import {
  authorizationServerDiscovery,
  fetchBounded,
  isDpopBound,
  presentedToken,
} from '@zerotrust/core/layer'
import { LRUCache } from 'lru-cache'
import * as oauth from 'oauth4webapi'
import { type IssuedToken, issuedToken, scopeList } from './lib/issued-token.js'
import {
  type ClientCertificateSource,
  type TokenExchangeOptions,
  tokenExchangeSettings,
} from './lib/options.js'
import { TlsFetch } from './lib/tls-fetch.js'

/** What one exchanged token is for; each member replaces the client's default. */
export interface ExchangeRequest {
  /** RFC 8693 §2.1 `audience`: the logical name of the downstream service. */
  readonly audience?: string
  /** RFC 8707 `resource`: the downstream API's indicator. */
  readonly resource?: string
  /** The scopes asked for; the authorization server gives at most the subject token's. */
  readonly scope?: string | readonly string[]
  /**
   * Stops this caller's wait; the request to the authorization server is aborted once every caller
   * waiting for it has stopped. The promise rejects with the signal's reason.
   */
  readonly signal?: AbortSignal
}

/** What {@link TokenExchange.mint} is asked for: `@zerotrust/client`'s `onBehalfOf` request. */
export interface ExchangeMintRequest {
  /** Sent as RFC 8693 `audience`: the downstream service, such as `api://billing`. */
  readonly audience: string
  /** The scopes the downstream call needs, each one of the user's (`auth.scopes`); none by default. */
  readonly scope?: string | readonly string[]
  /** Aborts the exchange (see {@link ExchangeRequest.signal}). */
  readonly signal?: AbortSignal
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
  /**
   * A token for `request.audience` on behalf of the user `auth` speaks for, in exchange for the token
   * that user presented (recorded by `jwtBearer` or `introspection`): the client's `onBehalfOf.tokens`,
   * so a handler writes `orders.fetch(path, { onBehalfOf: req.auth })` and never touches the user's
   * token. A scope the user does not hold is refused before any request.
   *
   * @throws ZeroTrustError as {@link exchange}, and 403 `access_denied` (`subject_token_bound`) for a
   *   DPoP- or certificate-bound user token, which is never presented without its proof; 403
   *   `insufficient_scope` (`scope_not_granted`); 401 `invalid_token` (`subject_expired`); 500
   *   `internal_error` (`no_subject` without `auth`, `subject_token_unavailable` when no authenticator
   *   recorded the token `auth` was made from)
   */
  mint(auth: Auth | undefined, request: ExchangeMintRequest): Promise<IssuedToken>
  /** Closes the connections to the authorization server (with `tls` or `issuerCa`) and stops following `tls`. */
  close(): Promise<void>
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
 *   auth: TlsClientAuth(),
 *   tls: svidFiles({ dir: '/run/spiffe' }),
 * })
 * const orders = zeroTrustClient({ baseUrl, onBehalfOf: { tokens: exchange, audience: 'api://orders' } })
 * app.get('/orders', async (req, res) => res.json(await (await orders.fetch('/orders', { onBehalfOf: req.auth })).json()))
 * @throws TypeError at construction when an option is invalid, naming it
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1
 */
export function tokenExchange(options: TokenExchangeOptions): TokenExchange {
  const settings = tokenExchangeSettings(options)
  const issuerUrl = new URL(settings.issuer)
  const client: oauth.Client = {
    client_id: settings.clientId,
    // RFC 8705 §5: over mutual TLS, the issuer's `mtls_endpoint_aliases` when it publishes them.
    ...(settings.tls === undefined ? {} : { use_mtls_endpoint_aliases: true }),
  }
  const transport =
    settings.tls === undefined && settings.issuerCa === undefined
      ? undefined
      : new TlsFetch(settings.tls, settings.issuerCa)
  const requestOptions = {
    [oauth.customFetch]: boundedFetch,
    ...(issuerUrl.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {}),
  }
  const cache =
    settings.maxCachedTokens === 0
      ? undefined
      : new LRUCache<string, { token: IssuedToken; reuseUntil: number }>({ max: settings.maxCachedTokens })
  const inFlight = new Map<string, Flight>()
  const discover = authorizationServerDiscovery(oauth, {
    issuer: issuerUrl,
    tokenEndpoint: settings.tokenEndpoint,
    requestOptions,
  })
  // Tokens exchanged under the old certificate may be bound to it (RFC 8705 §3): none is handed out after.
  const source = settings.tls as Partial<ClientCertificateSource> | undefined
  const stopRotation =
    typeof source?.current === 'function' && typeof source.onRotate === 'function'
      ? source.onRotate(() => cache?.clear())
      : undefined

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
      ...(transport === undefined ? {} : { fetch: transport.fetch }),
    })
    const empty = answer.status === 204 || answer.status === 304 || answer.body.byteLength === 0
    return new Response(empty ? null : answer.body, { status: answer.status, headers: answer.headers })
  }

  async function request(
    subjectToken: string,
    audience: string | undefined,
    resource: string | undefined,
    scopes: readonly string[],
    signal: AbortSignal,
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
        {
          ...requestOptions,
          signal,
        },
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

  /** One caller's wait for a shared exchange, which it may leave with its signal. */
  function join(flight: Flight, key: string, signal: AbortSignal | undefined): Promise<IssuedToken> {
    flight.waiters++
    if (signal === undefined) return flight.promise
    return new Promise<IssuedToken>((resolve, reject) => {
      const leave = () => {
        flight.waiters--
        // The last caller gone: the request to the authorization server is aborted, and a new caller
        // starts a new one rather than joining the aborted one.
        if (flight.waiters === 0) {
          if (inFlight.get(key) === flight) inFlight.delete(key)
          flight.controller.abort(signal.reason)
        }
        reject(signal.reason)
      }
      signal.addEventListener('abort', leave, { once: true })
      flight.promise.then(
        (token) => {
          signal.removeEventListener('abort', leave)
          resolve(token)
        },
        (error: unknown) => {
          signal.removeEventListener('abort', leave)
          reject(error)
        },
      )
    })
  }

  function exchange(subjectToken: string, request_: ExchangeRequest = {}): Promise<IssuedToken> {
    const signal = request_.signal
    if (signal?.aborted) return Promise.reject(signal.reason)
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
    let flight = inFlight.get(key)
    if (flight === undefined) {
      const controller = new AbortController()
      const started: Flight = {
        controller,
        waiters: 0,
        promise: request(subjectToken, audience, resource, scopes, controller.signal)
          .then((token) => {
            const reuseUntil = token.expiresAt - settings.refreshBefore * 1000
            if (cache !== undefined && reuseUntil > Date.now() && !controller.signal.aborted) {
              cache.set(key, { token, reuseUntil }, { ttl: reuseUntil - Date.now() })
            }
            return token
          })
          .finally(() => {
            if (inFlight.get(key) === started) inFlight.delete(key)
          }),
      }
      // Every caller may have left before it settles; its end is then nobody's to handle.
      started.promise.catch(() => {})
      inFlight.set(key, started)
      flight = started
    }
    return join(flight, key, signal)
  }

  function mint(auth: Auth | undefined, request_: ExchangeMintRequest): Promise<IssuedToken> {
    const signal = request_?.signal
    if (signal?.aborted) return Promise.reject(signal.reason)
    try {
      const subjectToken = subjectTokenOf(auth)
      const scopes = scopeList(request_.scope)
      // Never wider than the user's token: refused here, before the authorization server is asked.
      const missing = scopes.filter((scope) => !(auth as Auth).scopes.includes(scope))
      if (missing.length > 0) {
        throw new ZeroTrustError('insufficient_scope', 'the user was not granted a scope the call needs', {
          reason: 'scope_not_granted',
          scope: missing,
        })
      }
      if (typeof request_.audience !== 'string' || request_.audience === '') {
        throw new ZeroTrustError('internal_error', 'a token is exchanged for one named audience', {
          reason: 'audience_not_allowed',
        })
      }
      return exchange(subjectToken, {
        audience: request_.audience,
        scope: scopes,
        ...(signal === undefined ? {} : { signal }),
      })
    } catch (error) {
      return Promise.reject(error)
    }
  }

  return Object.freeze({
    issuer: settings.issuer,
    exchange,
    mint,
    async close(): Promise<void> {
      stopRotation?.()
      transport?.close()
    },
  })
}

/** A request to the authorization server that callers share, and how many of them still wait for it. */
interface Flight {
  readonly promise: Promise<IssuedToken>
  readonly controller: AbortController
  waiters: number
}

/**
 * The user's token to send as `subject_token` (RFC 8693 §2.1): the very token `auth` was made from,
 * never a sender-constrained one, never that of an expired `Auth`.
 */
function subjectTokenOf(auth: Auth | undefined): string {
  if (auth === undefined) {
    // A route without `authenticate` before it: the calling code's mistake, never the client's.
    throw new ZeroTrustError('internal_error', 'no authenticated user to act for', { reason: 'no_subject' })
  }
  // RFC 9449 and RFC 8705 bind the token to a key or certificate the user holds, which the edge cannot
  // prove at the authorization server: such a token is not presented without its proof.
  if (auth.scheme === 'DPoP' || isDpopBound(auth) || auth.cnf?.['x5t#S256'] !== undefined) {
    throw new ZeroTrustError('access_denied', 'a sender-constrained token is not exchanged', {
      reason: 'subject_token_bound',
    })
  }
  const expiresAt = auth.expiresAt
  if (expiresAt !== undefined && expiresAt * 1000 <= Date.now()) {
    throw new ZeroTrustError('invalid_token', 'the token expired', { reason: 'subject_expired' })
  }
  const token = presentedToken(auth)
  if (token === undefined) {
    throw new ZeroTrustError('internal_error', 'the authenticated request carries no token to exchange', {
      reason: 'subject_token_unavailable',
    })
  }
  return token
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
