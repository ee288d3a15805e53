import { checkEndpoint } from '@zerotrust/core/layer'
import * as oauth from 'oauth4webapi'
import { boundedFetch, type OAuthFetch } from './bounded-fetch.js'
import { deadline } from './deadline.js'
import type { ClientAuthentication, ClientSecret, IntrospectionSettings } from './options.js'
import { translateError, unavailable } from './translate-error.js'

/** Sends one token to the introspection endpoint and returns the parsed answer (`active` is a boolean). */
export type Introspect = (token: string) => Promise<oauth.IntrospectionResponse>

interface Transport {
  readonly [oauth.customFetch]: OAuthFetch
  readonly signal: AbortSignal
}

/**
 * Builds the RFC 7662 client on oauth4webapi: endpoint from the options or from the issuer's metadata
 * (discovered once, retried after a failure), client authentication resolved per call (so a rotated
 * secret is picked up), and one deadline bounding every step of a call: the secret getter, discovery,
 * the request and the reading of the body.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export function introspectionClient(o: IntrospectionSettings): Introspect {
  const client: oauth.Client = { client_id: o.clientId }
  const fetch = boundedFetch(o.fetch)
  const authenticate = clientAuth(o.clientAuthentication)
  const issuerUrl = new URL(o.issuer)
  let server: Promise<oauth.AuthorizationServer> | undefined =
    o.introspectionEndpoint === undefined
      ? undefined
      : Promise.resolve({
          issuer: o.issuer,
          introspection_endpoint: o.introspectionEndpoint.href,
          ...(o.jwksUri === undefined ? {} : { jwks_uri: o.jwksUri.href }),
        })

  // Concurrent callers share one discovery; a failed one is forgotten so the next call retries.
  function metadata(transport: Transport): Promise<oauth.AuthorizationServer> {
    if (server === undefined) {
      const pending = discover(issuerUrl, transport)
      server = pending
      pending.catch(() => {
        if (server === pending) server = undefined
      })
    }
    return server
  }

  async function run(token: string, signal: AbortSignal): Promise<oauth.IntrospectionResponse> {
    const transport = { [oauth.customFetch]: fetch, signal }
    const as = await metadata(transport)
    const auth = await authenticate()
    const response = await oauth.introspectionRequest(as, client, auth, token, {
      ...transport,
      ...insecure(as.introspection_endpoint),
      // RFC 7662 §2.1: the hint saves the server a lookup; we only ever hold access tokens.
      additionalParameters: { token_type_hint: 'access_token' },
      // RFC 9701: a signed answer when asked for, verified below with the issuer's keys.
      requestJwtResponse: o.signedResponses,
    })
    const signed =
      response.headers.get('content-type')?.toLowerCase().includes('token-introspection+jwt') === true
    if (signed !== o.signedResponses) {
      // An unsigned answer where a signed one is required would be a downgrade; a signed one we did not
      // ask for has keys we were not told to trust.
      await response.body?.cancel().catch(() => {})
      throw unavailable('introspection_malformed')
    }
    const answer = await oauth.processIntrospectionResponse(as, client, response)
    if (signed) {
      if (as.jwks_uri === undefined || checkEndpoint(as.jwks_uri) === undefined) {
        throw unavailable('introspection_malformed')
      }
      await oauth.validateApplicationLevelSignature(as, response, { ...transport, ...insecure(as.jwks_uri) })
    }
    return answer
  }

  return async function introspect(token) {
    const signal = AbortSignal.timeout(o.timeout)
    try {
      return await deadline(run(token, signal), signal)
    } catch (error) {
      throw translateError(error, signal.aborted)
    }
  }
}

async function discover(issuer: URL, transport: Transport): Promise<oauth.AuthorizationServer> {
  let failure: unknown
  // OpenID Connect Discovery first, then RFC 8414 (which puts the well-known segment before the path).
  for (const algorithm of ['oidc', 'oauth2'] as const) {
    try {
      const response = await oauth.discoveryRequest(issuer, {
        ...transport,
        ...insecure(issuer.href),
        algorithm,
      })
      // RFC 8414 §3.3: the document must name exactly this issuer.
      const as = await oauth.processDiscoveryResponse(issuer, response)
      const endpoint = as.introspection_endpoint
      if (endpoint === undefined || checkEndpoint(endpoint) === undefined) {
        throw unavailable('discovery_unavailable')
      }
      return as
    } catch (error) {
      failure = error
      if (transport.signal.aborted) break
    }
  }
  if (transport.signal.aborted) {
    throw unavailable('introspection_timeout', failure)
  }
  throw unavailable('discovery_unavailable', failure)
}

// checkEndpoint admits plain http only on loopback; oauth4webapi needs to be told about it.
function insecure(url: string | undefined): { [oauth.allowInsecureRequests]?: true } {
  return url?.startsWith('http:') ? { [oauth.allowInsecureRequests]: true } : {}
}

function clientAuth(config: ClientAuthentication): () => Promise<oauth.ClientAuth> {
  if (config.method === 'private_key_jwt') {
    const auth = oauth.PrivateKeyJwt(config.key)
    return async () => auth
  }
  const make = config.method === 'client_secret_basic' ? oauth.ClientSecretBasic : oauth.ClientSecretPost
  const { secret } = config
  if (typeof secret === 'string') {
    const auth = make(secret)
    return async () => auth
  }
  return async () => make(await currentSecret(secret))
}

async function currentSecret(getter: Exclude<ClientSecret, string>): Promise<string> {
  let value: unknown
  try {
    value = await getter()
  } catch (cause) {
    throw unavailable('client_secret_unavailable', cause)
  }
  if (typeof value !== 'string' || value === '') throw unavailable('client_secret_unavailable')
  return value
}
