import type { webcrypto } from 'node:crypto'
import * as oauth from 'oauth4webapi'

/** The methods a client authenticates with at the token endpoint. */
export type ClientAuthMethod = 'client_secret_basic' | 'private_key_jwt' | 'tls_client_auth'

const apply = Symbol('zerotrust.client-auth')

/**
 * How a client proves itself to the token endpoint: made by {@link clientSecretBasic},
 * {@link privateKeyJwt} or {@link tlsClientAuth}. Its secret or key is held out of sight: the object
 * prints as its `method` only.
 */
export interface ClientAuthentication {
  readonly method: ClientAuthMethod
  /** @internal oauth4webapi's client authentication. */
  readonly [apply]: oauth.ClientAuth
}

function authentication(method: ClientAuthMethod, clientAuth: oauth.ClientAuth): ClientAuthentication {
  const made = { method } as ClientAuthentication
  // Not enumerable: neither a log line nor JSON.stringify shows it.
  Object.defineProperty(made, apply, { value: clientAuth, enumerable: false })
  return Object.freeze(made)
}

/** oauth4webapi's client authentication of a {@link ClientAuthentication}, or `undefined` for another value. */
export function clientAuthOf(value: unknown): oauth.ClientAuth | undefined {
  const found = (value as Partial<ClientAuthentication> | undefined)?.[apply]
  return typeof found === 'function' ? found : undefined
}

/**
 * `client_secret_basic` (RFC 6749 §2.3.1): the client id and secret in an `Authorization: Basic` header.
 *
 * @example
 * clientCredentials({ issuer, clientId: 'checkout', auth: clientSecretBasic(secrets.CLIENT_SECRET.current()) })
 * @throws TypeError when `secret` is not a non-empty string
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function clientSecretBasic(secret: string): ClientAuthentication {
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new TypeError('clientSecretBasic: "secret" must be a non-empty string')
  }
  return authentication('client_secret_basic', oauth.ClientSecretBasic(secret))
}

/** Options of {@link privateKeyJwt}. */
export interface PrivateKeyJwtOptions {
  /** The `kid` of the key as registered at the issuer, sent in the assertion's header. */
  readonly kid?: string
}

/**
 * `private_key_jwt` (RFC 7523 §2.2): a short-lived JWT assertion signed with the client's private key,
 * whose public key the issuer has registered. No shared secret leaves the service.
 *
 * @example
 * const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
 * clientCredentials({ issuer, clientId: 'checkout', auth: privateKeyJwt(privateKey, { kid: 'k1' }) })
 * @throws TypeError when `key` is not a private signing `CryptoKey`
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */
export function privateKeyJwt(
  key: webcrypto.CryptoKey,
  options: PrivateKeyJwtOptions = {},
): ClientAuthentication {
  const isKey = Object.prototype.toString.call(key) === '[object CryptoKey]'
  if (!isKey || key.type !== 'private' || !key.usages.includes('sign')) {
    throw new TypeError('privateKeyJwt: "key" must be a private CryptoKey with the "sign" usage')
  }
  if (options.kid !== undefined && (typeof options.kid !== 'string' || options.kid.length === 0)) {
    throw new TypeError('privateKeyJwt: "kid" option must be a non-empty string')
  }
  const signingKey = options.kid === undefined ? key : { key, kid: options.kid }
  return authentication('private_key_jwt', oauth.PrivateKeyJwt(signingKey as oauth.PrivateKey))
}

/**
 * `tls_client_auth` (RFC 8705 §2.1): the client proves itself by its certificate in mutual TLS with the
 * token endpoint, here its SVID (give `clientCredentials` the `tls` option). The issuer has registered
 * the SPIFFE ID as the client's `tls_client_auth_san_uri`.
 *
 * @example
 * clientCredentials({ issuer, clientId: 'checkout', auth: tlsClientAuth(), tls: svid })
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1
 */
export function tlsClientAuth(): ClientAuthentication {
  return authentication('tls_client_auth', oauth.TlsClientAuth())
}
