import type { Authenticator } from '@zerotrust/core'
import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import type * as oauth from 'oauth4webapi'
import { z } from 'zod'
import type { MaxActorDepthOptions } from '../max-actor-depth.js'

/** The JWS algorithms internal tokens are signed with (RFC 7518 §3, RFC 8037). */
export type SigningAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'RS256' | 'PS256'

/** A private key as a secret holds it: PEM (PKCS #8, SEC 1 or PKCS #1) or a private JWK. */
export type PrivateKeyMaterial = string | Readonly<Record<string, unknown>>

/**
 * Where the signing key comes from: a `Secret` of `@zerotrust/secrets` (`secrets.EDGE_SIGNING_KEY`), or
 * any object of this shape. `current()` is read on every mint; a new value becomes the signing key and
 * the one before stays published for `overlapSeconds`.
 */
export interface SigningKeySource {
  current(): PrivateKeyMaterial
  /** Announces a rotation, so the new public key is published before the next mint. */
  onRotate?(listener: () => void): () => void
}

/** The certificate an internal token is bound to: an SVID (`svidFiles()` of `@zerotrust/workload`). */
export interface CertificateSource {
  current(): { readonly certificate: string; readonly spiffeId?: string }
}

/** Options of `internalTokens`. */
export interface InternalTokensOptions {
  /** The `iss` of the internal tokens, which downstream `jwtBearer` is configured with. */
  readonly issuer: string
  /** The signing key: a `Secret` of a PEM or JWK private key, rotated by its source. */
  readonly keys: SigningKeySource
  /**
   * The SPIFFE ID (or another identifier) of this workload, named as the current actor in `act.sub`;
   * the SPIFFE ID of `bindTo`'s SVID when absent.
   */
  readonly actor?: string
  /** Lifetime of a minted token in seconds; 60 by default, 300 at most. */
  readonly ttlSeconds?: number
  /** The JWS algorithm; by the key when absent (`ES256` for a P-256 key, `RS256` for RSA). */
  readonly algorithm?: SigningAlgorithm
  /** The audiences tokens may be minted for; any when absent. */
  readonly audiences?: readonly string[]
  /**
   * Binds every token to this workload's certificate (`cnf["x5t#S256"]`, RFC 8705 §3), so a token taken
   * from a call is useless from any other workload: the SVID it presents in mutual TLS.
   */
  readonly bindTo?: CertificateSource
  /** Seconds a replaced key stays published in the JWKS; `ttlSeconds` + 60 by default, at least `ttlSeconds`. */
  readonly overlapSeconds?: number
  /** Most actors a minted token's `act` chain may name, this workload included; 8 by default. */
  readonly maxActorDepth?: number
  /** Most minted tokens kept for reuse; 10 000 by default, 0 turns reuse off. */
  readonly maxCachedTokens?: number
  /** Receives the errors of a rotation that could not be applied (the previous key keeps signing). */
  readonly onError?: (error: Error) => void
}

const algorithms = ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'PS256'] as const

const internalSchema = z
  .strictObject({
    issuer: option.nonEmptyString(),
    keys: z.custom<SigningKeySource>(
      (value) =>
        typeof (value as Partial<SigningKeySource> | null)?.current === 'function' &&
        ((value as SigningKeySource).onRotate === undefined ||
          typeof (value as SigningKeySource).onRotate === 'function'),
      { error: 'must be a Secret (an object with "current()") holding a PEM or JWK private key' },
    ),
    actor: option.nonEmptyString().optional(),
    ttlSeconds: option.seconds({ min: 1, max: 300 }).optional(),
    algorithm: z.enum(algorithms, { error: `must be one of ${algorithms.join(', ')}` }).optional(),
    audiences: z
      .array(option.nonEmptyString(), { error: 'must be an array of non-empty strings' })
      .min(1, { error: 'must list at least one audience' })
      .optional(),
    bindTo: z
      .custom<CertificateSource>(
        (value) => typeof (value as Partial<CertificateSource> | null)?.current === 'function',
        { error: 'must be an SVID source (an object with "current()")' },
      )
      .optional(),
    overlapSeconds: option.seconds({ min: 1, max: 86_400 }).optional(),
    maxActorDepth: option.integer({ min: 1, max: 32 }).optional(),
    maxCachedTokens: option.integer({ max: 1_000_000 }).optional(),
    onError: option.callable<(error: Error) => void>().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.actor === undefined && o.bindTo === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['actor'],
        message: 'is required without "bindTo": the identity of this workload, named in "act"',
      })
    }
    const ttl = o.ttlSeconds ?? 60
    if (o.overlapSeconds !== undefined && o.overlapSeconds < ttl) {
      ctx.addIssue({
        code: 'custom',
        path: ['overlapSeconds'],
        message: 'must be at least "ttlSeconds": a replaced key must verify every token it signed',
      })
    }
  }) satisfies OptionsSchema<InternalTokensOptions>

/** The options of `internalTokens` after checking, with every default filled in. */
export interface InternalTokensSettings {
  readonly issuer: string
  readonly keys: SigningKeySource
  readonly actor: string | undefined
  readonly ttl: number
  readonly algorithm: SigningAlgorithm | undefined
  readonly audiences: ReadonlySet<string> | undefined
  readonly bindTo: CertificateSource | undefined
  readonly overlap: number
  readonly maxActorDepth: number
  readonly maxCachedTokens: number
  readonly onError: ((error: Error) => void) | undefined
}

/**
 * Checks `internalTokens` options once.
 *
 * @throws TypeError naming the option
 */
export function internalTokensSettings(input: unknown): InternalTokensSettings {
  const o = parseOptions('internalTokens', internalSchema, input)
  const ttl = o.ttlSeconds ?? 60
  return Object.freeze({
    issuer: o.issuer,
    keys: o.keys,
    actor: o.actor,
    ttl,
    algorithm: o.algorithm,
    audiences: o.audiences === undefined ? undefined : new Set(o.audiences),
    bindTo: o.bindTo,
    overlap: o.overlapSeconds ?? ttl + 60,
    maxActorDepth: o.maxActorDepth ?? 8,
    maxCachedTokens: o.maxCachedTokens ?? 10_000,
    onError: o.onError,
  })
}

const depthSchema = z.strictObject({
  maxDepth: option.integer({ min: 1, max: 32 }),
  realm: option.nonEmptyString().optional(),
}) satisfies OptionsSchema<MaxActorDepthOptions>

/**
 * Checks `maxActorDepth` options once.
 *
 * @throws TypeError naming the option
 */
export function maxActorDepthSettings(
  inner: Authenticator,
  input: unknown,
): { readonly maxDepth: number; readonly realm: string | undefined } {
  if (typeof (inner as Partial<Authenticator> | null)?.authenticate !== 'function') {
    throw new TypeError('maxActorDepth: the first argument must be an authenticator, such as jwtBearer(...)')
  }
  const o = parseOptions('maxActorDepth', depthSchema, input)
  return Object.freeze({ maxDepth: o.maxDepth, realm: o.realm })
}

/** A certificate and its private key, PEM: the leaf first, then any intermediates. */
export interface ClientCertificate {
  readonly certificate: string
  readonly key: string
}

/**
 * A client certificate that rotates: an SVID source (`svidFiles()` of `@zerotrust/workload`), read at
 * each request to the authorization server. `onRotate`, when present, drops the exchanged tokens cached
 * under the old certificate (an issuer may have bound them to it, RFC 8705 §3).
 */
export interface ClientCertificateSource {
  current(): ClientCertificate
  onRotate?(listener: () => void): () => void
}

/** Options of `tokenExchange`. */
export interface TokenExchangeOptions {
  /** The authorization server; its token endpoint is found by discovery unless `tokenEndpoint` is given. */
  readonly issuer: string
  /** This client (the edge) at the authorization server. */
  readonly clientId: string
  /**
   * How the client authenticates at the token endpoint: an oauth4webapi client authentication, such as
   * `ClientSecretBasic(secret)`, `PrivateKeyJwt(key)`, or `TlsClientAuth()` with `tls` (RFC 8705 §2.1).
   */
  readonly auth: oauth.ClientAuth
  /**
   * The certificate presented in mutual TLS to the authorization server: this workload's SVID, fixed or
   * a rotating source. Required by `TlsClientAuth()`, and what makes an issuer bind tokens to it (RFC 8705
   * §3). The metadata's `mtls_endpoint_aliases` are used when the issuer publishes them.
   */
  readonly tls?: ClientCertificate | ClientCertificateSource
  /** CA certificates (PEM) the authorization server's certificate must chain to; the system's by default. */
  readonly issuerCa?: string
  /** The token endpoint, to skip discovery. */
  readonly tokenEndpoint?: string
  /** The default `audience` of exchanged tokens (RFC 8693 §2.1). */
  readonly audience?: string
  /** The default RFC 8707 `resource` of exchanged tokens. */
  readonly resource?: string
  /** Sent as `actor_token` (RFC 8693 §2.1) with `actorTokenType`: this workload's own credential. */
  readonly actorToken?: () => string | PromiseLike<string>
  /** The type of `actorToken`; `urn:ietf:params:oauth:token-type:jwt` by default. */
  readonly actorTokenType?: string
  /** Milliseconds an exchange may take; 5000 by default. */
  readonly timeout?: number
  /** Seconds before `expires_in` runs out that a cached token stops being used; 10 by default. */
  readonly refreshBeforeSeconds?: number
  /** Most exchanged tokens kept; 10 000 by default, 0 turns reuse off. */
  readonly maxCachedTokens?: number
  /** Seconds a client is told to wait (`Retry-After`) when the authorization server fails; 5 by default. */
  readonly retryAfterSeconds?: number
}

const exchangeSchema = z
  .strictObject({
    issuer: option.url(),
    clientId: option.nonEmptyString(),
    auth: option.callable<oauth.ClientAuth>(
      'must be an oauth4webapi client authentication, such as ClientSecretBasic(secret)',
    ),
    tokenEndpoint: option.url().optional(),
    tls: z
      .custom<ClientCertificate | ClientCertificateSource>(
        (value) => {
          const source = value as Partial<ClientCertificateSource> | null
          if (typeof source?.current === 'function') {
            return source.onRotate === undefined || typeof source.onRotate === 'function'
          }
          const fixed = value as Partial<Record<keyof ClientCertificate, unknown>> | null
          return (
            typeof fixed?.certificate === 'string' &&
            fixed.certificate !== '' &&
            typeof fixed.key === 'string' &&
            fixed.key !== ''
          )
        },
        { error: 'must be a certificate and key ({ certificate, key }, PEM) or an SVID source' },
      )
      .optional(),
    issuerCa: option.nonEmptyString().optional(),
    audience: option.nonEmptyString().optional(),
    resource: option.nonEmptyString().optional(),
    actorToken: option.callable<() => string | PromiseLike<string>>().optional(),
    actorTokenType: option.nonEmptyString().optional(),
    timeout: option.milliseconds({ min: 1, max: 60_000 }).optional(),
    refreshBeforeSeconds: option.seconds({ max: 3600 }).optional(),
    maxCachedTokens: option.integer({ max: 1_000_000 }).optional(),
    retryAfterSeconds: option.seconds({ min: 1, max: 3600 }).optional(),
  })
  .superRefine((o, ctx) => {
    // Mutual TLS and a CA of our own are for https; the loopback allowance of plain http has neither.
    const plain = (url: string | undefined) => url !== undefined && new URL(url).protocol === 'http:'
    if ((o.tls !== undefined || o.issuerCa !== undefined) && (plain(o.issuer) || plain(o.tokenEndpoint))) {
      ctx.addIssue({
        code: 'custom',
        path: [o.tls === undefined ? 'issuerCa' : 'tls'],
        message: 'needs an https "issuer" and "tokenEndpoint"',
      })
    }
  }) satisfies OptionsSchema<TokenExchangeOptions>

/** The options of `tokenExchange` after checking, with every default filled in. */
export interface TokenExchangeSettings {
  readonly issuer: string
  readonly clientId: string
  readonly auth: oauth.ClientAuth
  readonly tokenEndpoint: string | undefined
  readonly tls: ClientCertificate | ClientCertificateSource | undefined
  readonly issuerCa: string | undefined
  readonly audience: string | undefined
  readonly resource: string | undefined
  readonly actorToken: (() => string | PromiseLike<string>) | undefined
  readonly actorTokenType: string
  readonly timeout: number
  readonly refreshBefore: number
  readonly maxCachedTokens: number
  readonly retryAfter: number
}

/**
 * Checks `tokenExchange` options once.
 *
 * @throws TypeError naming the option
 */
export function tokenExchangeSettings(input: unknown): TokenExchangeSettings {
  const o = parseOptions('tokenExchange', exchangeSchema, input)
  return Object.freeze({
    issuer: o.issuer,
    clientId: o.clientId,
    auth: o.auth,
    tokenEndpoint: o.tokenEndpoint,
    tls: o.tls,
    issuerCa: o.issuerCa,
    audience: o.audience,
    resource: o.resource,
    actorToken: o.actorToken,
    actorTokenType: o.actorTokenType ?? 'urn:ietf:params:oauth:token-type:jwt',
    timeout: o.timeout ?? 5000,
    refreshBefore: o.refreshBeforeSeconds ?? 10,
    maxCachedTokens: o.maxCachedTokens ?? 10_000,
    retryAfter: o.retryAfterSeconds ?? 5,
  })
}
