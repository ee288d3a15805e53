import { checkEndpoint } from '@zerotrust/core/layer'
import { type FetchSettings, fetchJsonObject, unavailable } from './fetch-json.js'

/**
 * The metadata URLs of an issuer, in the order they are tried: OpenID Connect Discovery, then RFC 8414
 * (which puts the well-known segment between the host and the issuer's path).
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3.1
 */
function metadataUrls(issuer: string): URL[] {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  return [
    new URL(`${url.origin}${path}/.well-known/openid-configuration`),
    new URL(`${url.origin}/.well-known/oauth-authorization-server${path}`),
  ]
}

/**
 * Finds the issuer's `jwks_uri`. The metadata's `issuer` must equal the configured one exactly
 * (RFC 8414 §3.3), so a document served for another issuer cannot hand us its keys.
 */
export async function discoverJwksUri(issuer: string, settings: FetchSettings): Promise<URL> {
  // A document that was found but is wrong says more than a location that did not answer.
  let unreachable: unknown
  let wrong: unknown
  for (const url of metadataUrls(issuer)) {
    let metadata: Record<string, unknown>
    try {
      metadata = await fetchJsonObject(url, settings, 'discovery')
    } catch (error) {
      unreachable ??= error
      continue
    }
    if (metadata.issuer !== issuer) {
      wrong ??= unavailable('discovery_issuer_mismatch')
      continue
    }
    const jwksUri = metadata.jwks_uri
    const checked = typeof jwksUri === 'string' ? checkEndpoint(jwksUri) : undefined
    if (checked === undefined) {
      wrong ??= unavailable('discovery_invalid_jwks_uri')
      continue
    }
    return checked
  }
  throw wrong ?? unreachable ?? unavailable('discovery_unavailable')
}
