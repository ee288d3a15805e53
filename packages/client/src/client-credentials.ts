import type { webcrypto } from 'node:crypto'
import {
  authorizationServerDiscovery,
  BoundedFetchError,
  fetchBounded,
  isBoundedFetchError,
} from '@zerotrust/core/layer'
import * as oauth from 'oauth4webapi'
import { fetch as undiciFetch } from 'undici'
import { type ClientAuthentication, clientAuthOf } from './client-auth.js'
import { type ClientEventSink, emit, since } from './lib/events.js'
import { clientCredentialsSettings } from './lib/options.js'
import { problemOf } from './lib/problem.js'
import type { Svid, SvidSource } from './lib/svid.js'
import { type AccessToken, accessToken, TokenCache } from './lib/token-cache.js'
import { Transport } from './lib/transport.js'
import { OutboundError, type OutboundTarget } from './outbound-error.js'

export type { AccessToken } from './lib/token-cache.js'

/** Options of {@link clientCredentials}. */
export interface ClientCredentialsOptions {
  /** The issuer; its token endpoint is found by discovery unless `tokenEndpoint` is given. https (http on loopback only). */
  readonly issuer: string
  readonly clientId: string
  /** How the client authenticates: `clientSecretBasic(…)`, `privateKeyJwt(…)` or `tlsClientAuth()`. */
  readonly auth: ClientAuthentication
  /** Sent as the `audience` parameter, which some issuers use to pick a token's `aud`. */
  readonly audience?: string
  /** RFC 8707 resource indicator, sent as `resource`: the API the token is for. */
  readonly resource?: string
  /** The scopes asked for, as a list or a space-separated string. */
  readonly scope?: string | readonly string[]
  /**
   * The SVID to present in mutual TLS to the token endpoint: required by `tlsClientAuth()`, and what
   * makes an issuer bind tokens to the certificate (RFC 8705 §3). When it rotates, cached tokens are
   * dropped: one bound to the old certificate would be refused.
   */
  readonly tls?: Svid | SvidSource
  /** CA certificates (PEM) that the issuer's TLS certificate must chain to; the system's by default. */
  readonly issuerCa?: string
  /** The token endpoint, to skip discovery. */
  readonly tokenEndpoint?: string
  /** Milliseconds before expiry a token is refreshed; 60 000 by default (at most half its lifetime). */
  readonly refreshBefore?: number
  /** Up to this many more milliseconds, at random, so replicas spread their refreshes; 5 000 by default. */
  readonly refreshJitter?: number
  /** Milliseconds a token or discovery request may take; 10 000 by default. */
  readonly timeout?: number
  /** Most tokens kept (one per audience, scope, resource and DPoP key); 100 by default. */
  readonly maxCachedTokens?: number
  /** Receives one event per token request. */
  readonly onEvent?: ClientEventSink
}

/** A DPoP key a token is to be bound to (RFC 9449 §5): the client's, handed over by `zeroTrustClient`. */
export interface DpopKeyBinding {
  readonly keyPair: webcrypto.CryptoKeyPair
  /** RFC 7638 thumbprint of the public key. */
  readonly jkt: string
}

/** What one token is asked for; each member replaces the source's own. */
export interface TokenRequestOptions {
  readonly audience?: string
  readonly resource?: string
  readonly scope?: string | readonly string[]
  /** Binds the token to this DPoP key. */
  readonly dpop?: DpopKeyBinding
  /** Stops waiting (the request goes on for other callers). */
  readonly signal?: AbortSignal
}

/** Where a client gets its access tokens: {@link clientCredentials}, or any object of this shape. */
export interface TokenSource {
  token(options?: TokenRequestOptions): Promise<AccessToken>
  /**
   * The token `token(options)` would resolve with at once, when the source holds a fresh one; else
   * `undefined`. Optional: a client calls it first, so a cached token costs no promise and no timer.
   */
  peek?(options?: TokenRequestOptions): AccessToken | undefined
  /** Drops `token` from the cache: a service refused it (`invalid_token`). */
  invalidate(token: AccessToken): void
}

/** The token source of {@link clientCredentials}. */
export interface ClientCredentials extends TokenSource {
  readonly issuer: string
  readonly clientId: string
  /** Stops following the SVID and closes the connections to the issuer. */
  close(): Promise<void>
}

/** Largest token or discovery answer read. */
const maxAnswerBytes = 256 * 1024

/**
 * Access tokens of the OAuth 2.0 client credentials grant (RFC 6749 §4.4) on oauth4webapi, cached per
 * audience, resource, scope and DPoP key. A token is refreshed before it expires (`refreshBefore`, with
 * jitter) while callers keep using it; however many callers wait for a token, one request is made. When
 * the issuer fails, a token still valid is served until it expires; without one, `token()` rejects with
 * an {@link OutboundError} `dependency_unavailable` (reason `token_unavailable`), and with
 * `internal_error` (reason `token_refused`) when the issuer refuses the client.
 *
 * @example
 * const tokens = clientCredentials({
 *   issuer: 'https://idp.example.com/',
 *   clientId: 'checkout',
 *   auth: privateKeyJwt(clientKey, { kid: 'checkout-1' }),
 *   resource: 'api://billing',
 *   scope: 'charges:write',
 * })
 * const billing = zeroTrustClient({ baseUrl: 'https://billing.internal:8443', tokens })
 * @throws TypeError at construction when an option is invalid, naming it
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @see https://www.rfc-editor.org/rfc/rfc8707
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
 */
export function clientCredentials(options: ClientCredentialsOptions): ClientCredentials {
  const settings = clientCredentialsSettings(options)
  const clientAuth = clientAuthOf(settings.auth) as oauth.ClientAuth
  const issuerUrl = new URL(settings.issuer)
  const insecure = issuerUrl.protocol === 'http:'
  const transport =
    settings.tls === undefined && settings.issuerCa === undefined
      ? undefined
      : new Transport({
          tls: settings.tls,
          ca: settings.issuerCa ?? 'system',
          expectPeer: undefined,
          connections: 4,
          connectTimeout: settings.timeout,
        })
  const cache = new TokenCache(
    { refreshBefore: settings.refreshBefore, refreshJitter: settings.refreshJitter, retryRefreshAfter: 2000 },
    settings.maxCachedTokens,
  )
  const stopRotation =
    settings.tls !== undefined && typeof (settings.tls as SvidSource).onRotate === 'function'
      ? (settings.tls as SvidSource).onRotate(() => cache.clear())
      : undefined

  const client: oauth.Client = {
    client_id: settings.clientId,
    ...(settings.tls === undefined ? {} : { use_mtls_endpoint_aliases: true }),
  }
  const requestOptions = {
    [oauth.customFetch]: boundedFetch,
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
  }
  // One handle per key pair: it keeps the issuer's nonce (RFC 9449 §8) from one token request to the next.
  const handles = new WeakMap<webcrypto.CryptoKeyPair, oauth.DPoPHandle>()
  const keys = new WeakMap<TokenRequestOptions, string>()

  async function boundedFetch(
    url: string,
    init: oauth.CustomFetchOptions<string, URLSearchParams | undefined>,
  ): Promise<Response> {
    const lease = transport?.acquire()
    try {
      const answer = await fetchBounded(url, {
        maxBytes: maxAnswerBytes,
        timeout: settings.timeout,
        ...(init.signal ? { signal: init.signal } : {}),
        method: init.method,
        headers: init.headers,
        ...(init.body === undefined ? {} : { body: init.body }),
        ...(lease === undefined
          ? {}
          : {
              fetch: ((input: string, requestInit: RequestInit) =>
                undiciFetch(input, {
                  ...(requestInit as object),
                  dispatcher: lease.dispatcher,
                })) as unknown as typeof globalThis.fetch,
            }),
      })
      const empty = answer.status === 204 || answer.status === 304 || answer.body.byteLength === 0
      return new Response(empty ? null : answer.body, { status: answer.status, headers: answer.headers })
    } finally {
      if (lease !== undefined) transport?.release(lease)
    }
  }

  // OpenID Connect Discovery, then RFC 8414; shared, and tried again after a failure.
  const discover = authorizationServerDiscovery(oauth, {
    issuer: issuerUrl,
    tokenEndpoint: settings.tokenEndpoint,
    requestOptions,
  })

  function handleOf(binding: DpopKeyBinding): oauth.DPoPHandle {
    let handle = handles.get(binding.keyPair)
    if (handle === undefined) {
      handle = oauth.DPoP(client, binding.keyPair, {
        // oauth4webapi names Ed25519 proofs `Ed25519`; the client's own proofs say `EdDSA`, as issuers expect.
        [oauth.modifyAssertion]: (header) => {
          if (header.alg === 'Ed25519') header.alg = 'EdDSA'
        },
      })
      handles.set(binding.keyPair, handle)
    }
    return handle
  }

  function targetOf(as: oauth.AuthorizationServer | undefined): OutboundTarget {
    const endpoint = as?.token_endpoint ?? settings.tokenEndpoint
    const url = endpoint === undefined ? issuerUrl : new URL(endpoint)
    return { method: 'POST', origin: url.origin, path: url.pathname }
  }

  async function request(
    audience: string | undefined,
    resource: string | undefined,
    scope: string | undefined,
    dpop: DpopKeyBinding | undefined,
  ): Promise<AccessToken> {
    const parameters = new URLSearchParams()
    if (audience !== undefined) parameters.set('audience', audience)
    if (resource !== undefined) parameters.set('resource', resource)
    if (scope !== undefined && scope !== '') parameters.set('scope', scope)
    const handle = dpop === undefined ? undefined : handleOf(dpop)
    let as: oauth.AuthorizationServer | undefined
    for (let attempt = 1; ; attempt++) {
      const started = performance.now()
      try {
        as ??= await discover()
        const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, parameters, {
          ...requestOptions,
          ...(handle === undefined ? {} : { DPoP: handle }),
        })
        const answer = await oauth.processClientCredentialsResponse(as, client, response)
        const type = answer.token_type === 'dpop' ? 'DPoP' : 'Bearer'
        if (type === 'Bearer' && answer.token_type !== 'bearer') {
          throw new BoundedFetchError('ERR_FETCH_NOT_JSON', 'the issuer answered an unknown token type')
        }
        const lifetime = typeof answer.expires_in === 'number' ? answer.expires_in : 60
        reportAttempt(as, 'allow', undefined, response.status, attempt, started, audience ?? resource)
        return accessToken(answer.access_token, type, Date.now() + lifetime * 1000)
      } catch (error) {
        // RFC 9449 §8: the issuer asks for its nonce; the handle keeps the one it sent, and one more try uses it.
        if (attempt === 1 && handle !== undefined && oauth.isDPoPNonceError(error)) {
          reportAttempt(as, 'deny', undefined, 400, attempt, started, audience ?? resource, 0)
          continue
        }
        const failure = tokenError(error, targetOf(as), attempt)
        reportAttempt(
          as,
          failure.code === 'internal_error' ? 'deny' : 'error',
          failure,
          failure.upstream?.status,
          attempt,
          started,
          audience ?? resource,
        )
        throw failure
      }
    }
  }

  function reportAttempt(
    as: oauth.AuthorizationServer | undefined,
    outcome: 'allow' | 'deny' | 'error',
    error: OutboundError | undefined,
    status: number | undefined,
    attempt: number,
    started: number,
    audience: string | undefined,
    retryInMs?: number,
  ): void {
    if (settings.onEvent === undefined) return
    const target = targetOf(as)
    emit(settings.onEvent, {
      layer: 'client_credentials',
      outcome,
      code: error === undefined ? (outcome === 'allow' ? 'ok' : 'use_dpop_nonce') : error.code,
      ...(error === undefined ? {} : { reason: error.reason }),
      ...(status === undefined ? {} : { status }),
      ...(retryInMs === undefined ? {} : { retryInMs }),
      method: 'POST',
      origin: target.origin,
      path: target.path,
      attempt,
      clientId: settings.clientId,
      ...(audience === undefined ? {} : { audience }),
      ...(transport?.spiffeId === undefined ? {} : { workload: transport.spiffeId }),
      durationMs: since(started),
    })
  }

  return Object.freeze({
    issuer: settings.issuer,
    clientId: settings.clientId,
    token(request_: TokenRequestOptions = {}): Promise<AccessToken> {
      const audience = request_.audience ?? settings.audience
      const resource = request_.resource ?? settings.resource
      const scope = scopeString(request_.scope) ?? settings.scope
      const dpop = request_.dpop
      return cache.get(
        keyOf(audience, resource, scope, dpop),
        () => request(audience, resource, scope, dpop),
        request_.signal,
      )
    },
    peek(request_: TokenRequestOptions = {}): AccessToken | undefined {
      // A client asks with the same options object at each call: its key is made once.
      let key = keys.get(request_)
      if (key === undefined) {
        const scope = scopeString(request_.scope) ?? settings.scope
        key = keyOf(
          request_.audience ?? settings.audience,
          request_.resource ?? settings.resource,
          scope,
          request_.dpop,
        )
        keys.set(request_, key)
      }
      return cache.peek(key)
    },
    invalidate(token: AccessToken): void {
      cache.invalidate(token)
    },
    async close(): Promise<void> {
      stopRotation?.()
      await transport?.close()
    },
  })
}

/** The cache key of a token: what it is for, and the DPoP key it is bound to. */
function keyOf(
  audience: string | undefined,
  resource: string | undefined,
  scope: string | undefined,
  dpop: DpopKeyBinding | undefined,
): string {
  return `${audience ?? ''}\n${resource ?? ''}\n${scope ?? ''}\n${dpop?.jkt ?? ''}`
}

function scopeString(scope: string | readonly string[] | undefined): string | undefined {
  if (scope === undefined) return undefined
  return typeof scope === 'string' ? scope : scope.join(' ')
}

/** The error of a failed token request, by the code of what failed, never its message. */
function tokenError(error: unknown, target: OutboundTarget, attempts: number): OutboundError {
  const where = `${target.method} ${target.origin}${target.path}`
  if (error instanceof oauth.ResponseBodyError || error instanceof oauth.WWWAuthenticateChallengeError) {
    const status = error.status
    // RFC 6749 §5.2: the OAuth error code and description, kept as the problem's extensions (bounded).
    const problem =
      error instanceof oauth.ResponseBodyError
        ? problemOf({ error: error.error, error_description: error.error_description })
        : undefined
    // RFC 6749 §5.2: a 401 may carry the error as a challenge (oauth4webapi parsed it), bounded here.
    const challenges =
      error instanceof oauth.WWWAuthenticateChallengeError
        ? error.cause.slice(0, 16).map((challenge) => ({
            scheme: challenge.scheme.slice(0, 64),
            params: Object.freeze(
              Object.fromEntries(
                Object.entries(challenge.parameters)
                  .slice(0, 32)
                  .filter(([, value]) => typeof value === 'string' && value.length <= 1024),
              ) as Record<string, string>,
            ),
          }))
        : []
    const upstream = { status, problem, challenges, retryAfter: undefined }
    if (status >= 500) {
      return new OutboundError('dependency_unavailable', `the token endpoint ${where} answered ${status}`, {
        reason: 'token_unavailable',
        target,
        attempts,
        upstream,
        cause: error,
      })
    }
    return new OutboundError('internal_error', `the token endpoint ${where} refused the client (${status})`, {
      reason: 'token_refused',
      target,
      attempts,
      upstream,
      cause: error,
    })
  }
  // oauth4webapi's checks of the answer: the issuer answered, but not a token (or not its metadata).
  const malformed =
    error instanceof oauth.OperationProcessingError ||
    (isBoundedFetchError(error) && error.code === 'ERR_FETCH_NOT_JSON')
  if (malformed) {
    return new OutboundError(
      'dependency_unavailable',
      `the token endpoint ${where} answered no usable token`,
      {
        reason: 'token_malformed',
        target,
        attempts,
        cause: error,
      },
    )
  }
  return new OutboundError('dependency_unavailable', `the token endpoint ${where} could not be reached`, {
    reason: 'token_unavailable',
    target,
    attempts,
    cause: error,
  })
}
