/**
 * The two functions of oauth4webapi that discovery uses. The module is passed in (`import * as oauth from
 * 'oauth4webapi'`), so core depends on neither oauth4webapi nor a transport: each layer keeps its own
 * copy and its own `customFetch`.
 */
export interface DiscoveryFunctions<Metadata> {
  discoveryRequest(issuer: URL, options: { readonly algorithm: 'oidc' | 'oauth2' }): Promise<Response>
  processDiscoveryResponse(issuer: URL, response: Response): Promise<Metadata>
}

/** Options of {@link authorizationServerDiscovery}. */
export interface AuthorizationServerDiscoveryOptions {
  readonly issuer: URL
  /** The token endpoint, when configured: discovery is skipped and the metadata is `{ issuer, token_endpoint }`. */
  readonly tokenEndpoint?: string | undefined
  /** oauth4webapi's request options (its `customFetch`, `allowInsecureRequests`), spread into each request. */
  readonly requestOptions?: object
}

/**
 * The authorization server's metadata, fetched once and shared: OpenID Connect Discovery first, RFC 8414
 * when that location answers 404. oauth4webapi checks that the metadata names the configured issuer
 * (RFC 8414 §3.3). A failed discovery is not kept, so the next call tries again; concurrent calls share
 * one attempt.
 *
 * @example
 * const discover = authorizationServerDiscovery(oauth, { issuer: new URL(issuer), requestOptions })
 * const as = await discover()
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 */
export function authorizationServerDiscovery<Metadata>(
  oauth: DiscoveryFunctions<Metadata>,
  options: AuthorizationServerDiscoveryOptions,
): () => Promise<Metadata | { readonly issuer: string; readonly token_endpoint: string }> {
  const { issuer, tokenEndpoint } = options
  if (tokenEndpoint !== undefined) {
    const configured = Promise.resolve(Object.freeze({ issuer: issuer.href, token_endpoint: tokenEndpoint }))
    return () => configured
  }
  const requestOptions = options.requestOptions ?? {}
  let metadata: Promise<Metadata> | undefined
  return function discover() {
    metadata ??= (async () => {
      let response = await oauth.discoveryRequest(issuer, { ...requestOptions, algorithm: 'oidc' })
      if (response.status === 404) {
        response = await oauth.discoveryRequest(issuer, { ...requestOptions, algorithm: 'oauth2' })
      }
      return oauth.processDiscoveryResponse(issuer, response)
    })()
    // A failed discovery is tried again by the next call.
    metadata.catch(() => {
      metadata = undefined
    })
    return metadata
  }
}
