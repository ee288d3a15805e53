import { randomBytes, X509Certificate } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import type { TLSSocket } from 'node:tls'
import type { JSONWebKeySet } from 'jose'
import type { ClientMetadata, Configuration, KoaContextWithOIDC, default as Provider } from 'oidc-provider'
import type { OutageMode } from './jwks-server.js'
import { type AsymmetricAlgorithm, generateSigningKey, type SigningKey, toJwks } from './keys.js'
import { close, listen } from './lib/loopback.js'
import { memoryAdapter } from './lib/memory-adapter.js'
import { loadOidcProvider } from './lib/oidc-provider.js'
import {
  tokenExchangeGrantType,
  tokenExchangeHandler,
  tokenExchangeParameters,
} from './lib/token-exchange-grant.js'

/** How an access token is issued: a signed JWT (RFC 9068) or an opaque handle for introspection. */
export type TokenFormat = 'jwt' | 'opaque'

/** How a client authenticates at the token and introspection endpoints (through {@link AuthorizationServer.token}). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post'

/**
 * How a registered client may authenticate: a client secret, or (for clients such as
 * `@zerotrust/client`, not the testkit's own `token()`) RFC 7523 `private_key_jwt` with its `jwks`, or
 * RFC 8705 `tls_client_auth` with its certificate (the server's `tls` option).
 */
export type RegisteredAuthMethod = ClientAuthMethod | 'private_key_jwt' | 'tls_client_auth'

/** A protected resource (an API) tokens can be issued for. */
export interface ResourceServerOptions {
  /** The resource indicator clients send (RFC 8707), such as `api://orders`. */
  readonly indicator: string
  /** The scopes this resource knows; a token carries only those among the requested ones. */
  readonly scope: string | readonly string[]
  /** The `aud` of its tokens; the indicator by default. */
  readonly audience?: string
  /** Lifetime of its tokens in seconds; the server's `accessTokenTtl` by default. */
  readonly accessTokenTtl?: number
  /** `jwt` by default. */
  readonly format?: TokenFormat
  /** Algorithm of its JWT tokens; the server's first algorithm by default. */
  readonly algorithm?: AsymmetricAlgorithm
}

/** A confidential client registered for the `client_credentials` grant. */
export interface ClientOptions {
  readonly clientId: string
  /** A random secret by default; read it back from {@link AuthorizationServer.clients}. */
  readonly clientSecret?: string
  /** The scopes the client may ask for; every resource scope by default. */
  readonly scope?: string | readonly string[]
  /** `client_secret_basic` by default. */
  readonly authMethod?: RegisteredAuthMethod
  /** The client's public keys, for `private_key_jwt`. */
  readonly jwks?: JSONWebKeySet
  /** RFC 8705 §2.1.2: the URI SAN (a SPIFFE ID) the client's certificate must hold, for `tls_client_auth`. */
  readonly tlsClientAuthSanUri?: string
  /** RFC 8705 §3: tokens bound to the client certificate presented at the token endpoint (`cnf.x5t#S256`). */
  readonly certificateBoundAccessTokens?: boolean
  /** RFC 9449 §5.2: tokens only through a DPoP proof (`dpop_bound_access_tokens`). */
  readonly dpopBoundAccessTokens?: boolean
}

/** Options of {@link startAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /**
   * Signing algorithms; one key (with a `kid`) is generated for each and published in the JWKS. The
   * first signs unless a resource or a token request picks another. `['ES256']` by default.
   */
  readonly algorithms?: readonly AsymmetricAlgorithm[]
  /** `[{ indicator: 'api://orders', scope: 'orders:read orders:write' }]` by default. */
  readonly resources?: readonly ResourceServerOptions[]
  /** `[{ clientId: 'orders-client' }]` by default. */
  readonly clients?: readonly ClientOptions[]
  /** Default lifetime of access tokens in seconds; 300 by default. */
  readonly accessTokenTtl?: number
  /** Makes the token endpoint demand a server-provided nonce in DPoP proofs (RFC 9449 §8). */
  readonly requireDpopNonce?: boolean
  /**
   * Serves HTTPS with this certificate and key (PEM), asking clients for a certificate that chains to
   * `ca` (not requiring one): mutual TLS for `tls_client_auth` and certificate-bound tokens (RFC 8705).
   * The testkit's own requests then trust `ca`.
   */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string }
  /**
   * Enables the RFC 8693 token exchange grant (`urn:ietf:params:oauth:grant-type:token-exchange`) for
   * these registered clients (an edge service), each limited to the resource indicators it lists (every
   * resource when absent). The grant takes a JWT access token of this server as `subject_token`
   * (`subject_token_type` `…:access_token`), optionally an `actor_token` of this server, `resource` or
   * `audience`, and `scope` (at most the subject token's); it issues an RFC 9068 JWT for that one
   * resource with the `act` claim (§4.1) naming the client (or the actor token's subject) in front of any
   * earlier actor, expiring no later than the subject token. Off by default.
   */
  readonly tokenExchange?: {
    readonly clients: readonly { readonly clientId: string; readonly resources?: readonly string[] }[]
  }
}

/** A registered client, with the secret it authenticates with. */
export interface RegisteredClient {
  readonly clientId: string
  readonly clientSecret: string
  readonly authMethod: RegisteredAuthMethod
  readonly scope: readonly string[]
}

/** A token request to {@link AuthorizationServer.token}; every field has a default. */
export interface TokenRequest {
  /** The first registered client by default. */
  readonly clientId?: string
  /** The registered client's secret by default; give another to test a failed authentication. */
  readonly clientSecret?: string
  /** The registered client's method by default. */
  readonly authMethod?: ClientAuthMethod
  /** Every scope the client may ask for by default. */
  readonly scope?: string | readonly string[]
  /** The first resource's indicator by default. */
  readonly resource?: string
  /** Lifetime of this token in seconds, such as 1 to get a token that expires at once. */
  readonly expiresIn?: number
  /** Signing algorithm of this token; must be one of the server's `algorithms`. */
  readonly algorithm?: AsymmetricAlgorithm
  /** Format of this token. */
  readonly format?: TokenFormat
  /** A DPoP proof for the token endpoint (see `createDpopProof`); the token is then DPoP-bound. */
  readonly dpopProof?: string
}

/** A successful token response. */
export interface TokenResponse {
  readonly accessToken: string
  /** `Bearer`, or `DPoP` for a DPoP-bound token. */
  readonly tokenType: string
  readonly expiresIn: number
  readonly scope?: string
}

/** An RFC 7662 introspection response. */
export interface IntrospectionResponse {
  readonly active: boolean
  readonly [member: string]: unknown
}

/** A running authorization server; see {@link startAuthorizationServer}. */
export interface AuthorizationServer {
  /** `http://127.0.0.1:<port>`, the `iss` of its tokens and the base of its discovery document. */
  readonly issuer: string
  readonly discoveryUri: string
  readonly jwksUri: string
  readonly tokenEndpoint: string
  readonly introspectionEndpoint: string
  /** The signing keys, in the order of the `algorithms` option. */
  readonly keys: readonly SigningKey[]
  /** The public JWKS it serves. */
  readonly jwks: JSONWebKeySet
  readonly clients: readonly RegisteredClient[]
  readonly resources: readonly ResourceServerOptions[]
  /** The oidc-provider instance, to listen to its events or reach what the testkit does not wrap. */
  readonly provider: Provider
  /**
   * Gets an access token through the `client_credentials` grant.
   *
   * @throws TokenRequestError when the server answers with an error
   */
  token(request?: TokenRequest): Promise<TokenResponse>
  /** Introspects a token (RFC 7662) as a registered client, the first one by default. */
  introspect(token: string, clientId?: string): Promise<IntrospectionResponse>
  /**
   * Takes the whole server down (`on`, the default) or brings it back: while down, every path (discovery,
   * JWKS, token endpoint) answers `503` with `Retry-After: 1` (`'status'`, the default) or has its
   * connection destroyed without an answer (`'reset'`): an identity provider outage.
   */
  down(on?: boolean, mode?: OutageMode): void
  /** Stops the server and ends its connections. */
  close(): Promise<void>
}

/** The error response of a token or introspection request. */
export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError'
  /** The OAuth `error` code, such as `invalid_scope`. */
  readonly error: string
  readonly errorDescription: string | undefined
  readonly status: number
  /** The `DPoP-Nonce` the server sent with a `use_dpop_nonce` error, to retry with. */
  readonly dpopNonce: string | undefined

  constructor(status: number, error: string, errorDescription?: string, dpopNonce?: string) {
    super(`token request failed with ${status} "${error}"${errorDescription ? `: ${errorDescription}` : ''}`)
    this.status = status
    this.error = error
    this.errorDescription = errorDescription
    this.dpopNonce = dpopNonce
  }
}

// Per-request knobs travel as request headers that only the testkit's own client sends: OAuth has no
// parameter for them, and oidc-provider strips unknown token endpoint parameters before the hooks run.
const ttlHeader = 'testkit-token-ttl'
const algorithmHeader = 'testkit-token-alg'
const formatHeader = 'testkit-token-format'

const defaultResources: readonly ResourceServerOptions[] = [
  { indicator: 'api://orders', scope: 'orders:read orders:write' },
]
const defaultClients: readonly ClientOptions[] = [{ clientId: 'orders-client' }]

/**
 * Starts a real OAuth 2.0 authorization server (oidc-provider, in this process) on 127.0.0.1 with a port
 * the OS chooses. Confidential clients get RFC 9068 JWT access tokens (header `typ: at+jwt`; claims
 * `iss`, `sub` = the client id, `aud`, `client_id`, `scope`, `iat`, `exp`, `jti`) through the
 * `client_credentials` grant with a resource indicator. Introspection and DPoP are enabled.
 *
 * @example
 * const as = await startAuthorizationServer()
 * const { accessToken } = await as.token({ scope: 'orders:read' })
 * const expiring = await as.token({ scope: 'orders:read', expiresIn: 1 })
 * await as.close()
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @see https://www.rfc-editor.org/rfc/rfc8707
 */
export async function startAuthorizationServer(
  options: AuthorizationServerOptions = {},
): Promise<AuthorizationServer> {
  const algorithms = options.algorithms ?? ['ES256']
  const resources = options.resources ?? defaultResources
  const accessTokenTtl = options.accessTokenTtl ?? 300
  if (algorithms.length === 0) throw new TypeError('"algorithms" option must not be empty')
  if (resources.length === 0) throw new TypeError('"resources" option must not be empty')
  checkTtl(accessTokenTtl, '"accessTokenTtl" option')
  for (const resource of resources) {
    if (resource.accessTokenTtl !== undefined) {
      checkTtl(resource.accessTokenTtl, '"accessTokenTtl" of a resource')
    }
    if (resource.algorithm !== undefined && !algorithms.includes(resource.algorithm)) {
      throw new TypeError(`"algorithm" of resource "${resource.indicator}" must be one of "algorithms"`)
    }
  }

  const resourceScopes = new Map(resources.map((resource) => [resource.indicator, toList(resource.scope)]))
  const allScopes = [...new Set([...resourceScopes.values()].flat())]
  const registered = options.clients ?? defaultClients
  const clients: RegisteredClient[] = registered.map((client) => ({
    clientId: client.clientId,
    clientSecret: client.clientSecret ?? randomBytes(24).toString('base64url'),
    authMethod: client.authMethod ?? 'client_secret_basic',
    scope: client.scope === undefined ? allScopes : toList(client.scope),
  }))
  const defaultClient = clients[0]
  const defaultResource = resources[0] as ResourceServerOptions
  if (defaultClient === undefined) throw new TypeError('"clients" option must not be empty')

  const exchangers = new Map(
    (options.tokenExchange?.clients ?? []).map((exchanger) => {
      if (!clients.some((client) => client.clientId === exchanger.clientId)) {
        throw new TypeError(`"tokenExchange" names "${exchanger.clientId}", which is not a registered client`)
      }
      for (const indicator of exchanger.resources ?? []) {
        if (!resourceScopes.has(indicator)) {
          throw new TypeError(`"tokenExchange" names the resource "${indicator}", which is not registered`)
        }
      }
      return [exchanger.clientId, exchanger.resources] as const
    }),
  )

  const keys = await Promise.all(algorithms.map((alg) => generateSigningKey(alg)))
  const { default: OidcProvider, errors } = await loadOidcProvider()

  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503).end()
  }
  let outage: OutageMode | undefined
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    if (outage === 'reset') {
      req.socket.destroy()
      return
    }
    if (outage === 'status') {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
      res.end('{"error":"service unavailable"}')
      return
    }
    handle(req, res)
  }
  const { tls } = options
  const server: Server = tls
    ? createHttpsServer(
        { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false },
        serve,
      )
    : createServer(serve)
  const listened = await listen(server)
  const issuer = tls ? listened.replace(/^http:/, 'https:') : listened
  const send = (url: string, init: SendInit) => (tls ? sendTls(url, init, tls.ca) : sendPlain(url, init))

  const pickAlgorithm = (ctx: KoaContextWithOIDC, resource: ResourceServerOptions): AsymmetricAlgorithm => {
    const asked = ctx.get(algorithmHeader)
    if (asked === '') return resource.algorithm ?? (algorithms[0] as AsymmetricAlgorithm)
    const found = algorithms.find((alg) => alg === asked)
    if (found === undefined) throw new errors.InvalidRequest(`the server has no "${asked}" signing key`)
    return found
  }
  const pickTtl = (ctx: KoaContextWithOIDC, resource: ResourceServerOptions): number => {
    const asked = ctx.get(ttlHeader)
    if (asked === '') return resource.accessTokenTtl ?? accessTokenTtl
    const ttl = Number(asked)
    if (!Number.isSafeInteger(ttl) || ttl <= 0) {
      throw new errors.InvalidRequest(`"${ttlHeader}" must be a positive integer`)
    }
    return ttl
  }
  const pickFormat = (ctx: KoaContextWithOIDC, resource: ResourceServerOptions): TokenFormat => {
    const asked = ctx.get(formatHeader)
    if (asked === '') return resource.format ?? 'jwt'
    if (asked !== 'jwt' && asked !== 'opaque') {
      throw new errors.InvalidRequest(`"${formatHeader}" must be "jwt" or "opaque"`)
    }
    return asked
  }

  const configuration: Configuration = {
    adapter: memoryAdapter(),
    jwks: { keys: keys.map((key) => ({ ...key.privateJwk })) },
    clients: clients.map((client, index): ClientMetadata => {
      const given = registered[index] as ClientOptions
      return {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        token_endpoint_auth_method: client.authMethod,
        grant_types: exchangers.has(client.clientId)
          ? ['client_credentials', tokenExchangeGrantType]
          : ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: client.scope.join(' '),
        ...(given.jwks === undefined ? {} : { jwks: given.jwks }),
        ...(given.tlsClientAuthSanUri === undefined
          ? {}
          : { tls_client_auth_san_uri: given.tlsClientAuthSanUri }),
        ...(given.certificateBoundAccessTokens ? { tls_client_certificate_bound_access_tokens: true } : {}),
        ...(given.dpopBoundAccessTokens ? { dpop_bound_access_tokens: true } : {}),
      }
    }),
    // Clients are validated against the keys at hand: an ID token algorithm without a key (RS256 is
    // oidc-provider's default) would make every client invalid.
    clientDefaults: {
      id_token_signed_response_alg: algorithms[0] as AsymmetricAlgorithm,
      introspection_signed_response_alg: algorithms[0] as AsymmetricAlgorithm,
    },
    // Its default allow-list stops at ES256, PS256, RS256 and EdDSA.
    enabledJWA: { idTokenSigningAlgValues: [...algorithms], introspectionSigningAlgValues: [...algorithms] },
    // Registering the resource scopes makes oidc-provider hold each client to its `scope` metadata.
    scopes: allScopes,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Any registered (confidential) client may introspect, as a resource server would.
        allowedPolicy: async () => true,
      },
      // RFC 9701: a signed answer for a client that asks with Accept: application/token-introspection+jwt.
      jwtIntrospection: { enabled: true },
      revocation: { enabled: true },
      mTLS: {
        enabled: tls !== undefined,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        getCertificate: (ctx) => {
          const socket = ctx.req.socket as Partial<TLSSocket>
          const raw = socket.getPeerCertificate?.().raw
          return raw === undefined ? undefined : new X509Certificate(raw)
        },
        certificateAuthorized: (ctx) => (ctx.req.socket as Partial<TLSSocket>).authorized === true,
        certificateSubjectMatches: (ctx, property, expected) => {
          if (property !== 'tls_client_auth_san_uri') return false
          const names = (ctx.req.socket as Partial<TLSSocket>).getPeerCertificate?.().subjectaltname ?? ''
          return names.split(', ').includes(`URI:${expected}`)
        },
      },
      dPoP: {
        enabled: true,
        ...(options.requireDpopNonce
          ? { nonceSecret: randomBytes(32), requireNonce: () => true }
          : { requireNonce: () => false }),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => defaultResource.indicator,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          const resource = resources.find((candidate) => candidate.indicator === indicator)
          if (resource === undefined) throw new errors.InvalidTarget()
          const format = pickFormat(ctx, resource)
          return {
            scope: (resourceScopes.get(indicator) ?? []).join(' '),
            audience: resource.audience ?? indicator,
            accessTokenTTL: pickTtl(ctx, resource),
            accessTokenFormat: format,
            ...(format === 'jwt' ? { jwt: { sign: { alg: pickAlgorithm(ctx, resource) } } } : {}),
          }
        },
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl,
    },
    clientBasedCORS: () => false,
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      ...(tls === undefined ? [] : (['tls_client_auth'] as const)),
    ],
  }

  const discoveryUri = `${issuer}/.well-known/openid-configuration`
  let provider: Provider
  let endpoints: { jwksUri: string; tokenEndpoint: string; introspectionEndpoint: string }
  try {
    provider = new OidcProvider(issuer, configuration)
    if (options.tokenExchange !== undefined) {
      const allowed = new Map<string, ReadonlySet<string>>()
      for (const [clientId, indicators] of exchangers) {
        if (indicators !== undefined) allowed.set(clientId, new Set(indicators))
      }
      provider.registerGrantType(
        tokenExchangeGrantType,
        tokenExchangeHandler({
          issuer: () => issuer,
          key: keys[0] as SigningKey,
          jwks: toJwks(...keys),
          targets: resources.map((resource) => ({
            indicator: resource.indicator,
            audience: resource.audience ?? resource.indicator,
            scope: resourceScopes.get(resource.indicator) ?? [],
            ttl: resource.accessTokenTtl ?? accessTokenTtl,
          })),
          allowed,
          errors,
        }),
        tokenExchangeParameters,
      )
    }
    handle = provider.callback()
    endpoints = await discoverEndpoints(discoveryUri, send)
  } catch (error) {
    await close(server)
    throw error
  }
  const { jwksUri, tokenEndpoint, introspectionEndpoint } = endpoints

  const clientFor = (clientId: string | undefined): RegisteredClient => {
    if (clientId === undefined) return defaultClient
    const client = clients.find((candidate) => candidate.clientId === clientId)
    if (client === undefined) throw new TypeError(`"${clientId}" is not a registered client`)
    return client
  }

  async function post(
    url: string,
    client: RegisteredClient,
    params: Record<string, string>,
    headers: Record<string, string>,
    secret = client.clientSecret,
    method: RegisteredAuthMethod = client.authMethod,
  ): Promise<Record<string, unknown>> {
    if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
      throw new TypeError(`the testkit's own requests authenticate with a client secret, not "${method}"`)
    }
    const body = new URLSearchParams(params)
    const sent: Record<string, string> = {
      ...headers,
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    }
    if (method === 'client_secret_basic') {
      // RFC 6749 §2.3.1: both parts are form-urlencoded before the Basic encoding.
      const pair = `${formEncode(client.clientId)}:${formEncode(secret)}`
      sent.authorization = `Basic ${Buffer.from(pair).toString('base64')}`
    } else {
      body.set('client_id', client.clientId)
      body.set('client_secret', secret)
    }
    const response = await send(url, { method: 'POST', headers: sent, body: body.toString() })
    const json = JSON.parse(response.text) as Record<string, unknown>
    if (response.status >= 400) {
      const description = typeof json.error_description === 'string' ? json.error_description : undefined
      throw new TokenRequestError(
        response.status,
        String(json.error ?? 'unknown_error'),
        description,
        response.nonce,
      )
    }
    return json
  }

  return Object.freeze({
    issuer,
    discoveryUri,
    jwksUri,
    tokenEndpoint,
    introspectionEndpoint,
    keys,
    jwks: toJwks(...keys),
    clients: Object.freeze(clients),
    resources,
    provider,
    async token(request: TokenRequest = {}): Promise<TokenResponse> {
      const client = clientFor(request.clientId)
      const scope = request.scope === undefined ? client.scope : toList(request.scope)
      const params: Record<string, string> = {
        grant_type: 'client_credentials',
        resource: request.resource ?? defaultResource.indicator,
      }
      if (scope.length > 0) params.scope = scope.join(' ')
      const headers: Record<string, string> = {}
      if (request.expiresIn !== undefined) headers[ttlHeader] = String(request.expiresIn)
      if (request.algorithm !== undefined) headers[algorithmHeader] = request.algorithm
      if (request.format !== undefined) headers[formatHeader] = request.format
      if (request.dpopProof !== undefined) headers.dpop = request.dpopProof
      const json = await post(
        tokenEndpoint,
        client,
        params,
        headers,
        request.clientSecret,
        request.authMethod,
      )
      return {
        accessToken: String(json.access_token),
        tokenType: String(json.token_type),
        expiresIn: Number(json.expires_in),
        ...(typeof json.scope === 'string' ? { scope: json.scope } : {}),
      }
    },
    async introspect(token: string, clientId?: string): Promise<IntrospectionResponse> {
      const json = await post(introspectionEndpoint, clientFor(clientId), { token }, {})
      return json as IntrospectionResponse
    },
    down(on = true, mode: OutageMode = 'status') {
      if (mode !== 'status' && mode !== 'reset') throw new TypeError('"mode" must be "status" or "reset"')
      outage = on ? mode : undefined
    },
    close: () => close(server),
  })
}

interface SendInit {
  readonly method: string
  readonly headers: Record<string, string>
  readonly body?: string
}

interface Sent {
  readonly status: number
  readonly text: string
  /** The `DPoP-Nonce` header, if any. */
  readonly nonce: string | undefined
}

async function sendPlain(url: string, init: SendInit): Promise<Sent> {
  const response = await fetch(url, init)
  return {
    status: response.status,
    text: await response.text(),
    nonce: response.headers.get('dpop-nonce') ?? undefined,
  }
}

/** The testkit's own request to an HTTPS server of its own, trusting `ca`. */
function sendTls(url: string, init: SendInit, ca: string): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method, headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const nonce = res.headers['dpop-nonce']
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          nonce: typeof nonce === 'string' ? nonce : undefined,
        })
      })
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

/** Reads the endpoints from the server's own discovery document, which also proves that it answers. */
async function discoverEndpoints(discoveryUri: string, send: (url: string, init: SendInit) => Promise<Sent>) {
  const response = await send(discoveryUri, { method: 'GET', headers: {} })
  if (response.status !== 200) throw new Error(`discovery answered ${response.status}`)
  const metadata = JSON.parse(response.text) as Record<string, unknown>
  const endpoint = (name: string): string => {
    const value = metadata[name]
    if (typeof value !== 'string') throw new Error(`discovery document has no "${name}"`)
    return value
  }
  return {
    jwksUri: endpoint('jwks_uri'),
    tokenEndpoint: endpoint('token_endpoint'),
    introspectionEndpoint: endpoint('introspection_endpoint'),
  }
}

function toList(scope: string | readonly string[]): string[] {
  return typeof scope === 'string' ? scope.split(' ').filter((value) => value !== '') : [...scope]
}

function checkTtl(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`${what} must be a positive integer`)
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+')
}
