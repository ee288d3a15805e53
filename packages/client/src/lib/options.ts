// Every option of the package, checked once at construction: a mistake throws a TypeError naming the
// factory and the option (`zeroTrustClient: "expectPeer" option must …`), and nothing is checked per call
// that could be checked here.
import type { webcrypto } from 'node:crypto'
import { checkEndpoint, type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import { parseSpiffeId } from '@zerotrust/workload'
import { z } from 'zod'
import { type ClientAuthentication, clientAuthOf } from '../client-auth.js'
import type { ClientCredentialsOptions, TokenSource } from '../client-credentials.js'
import type { OnBehalfOfOptions, OnBehalfOfTokens, ZeroTrustClientOptions } from '../zero-trust-client.js'
import { isDpopKeyPair } from './dpop-key.js'
import type { ClientEventSink } from './events.js'
import type { ContextPropagator } from './propagation.js'
import { isSvid, isSvidSource, type Svid, type SvidSource } from './svid.js'

/**
 * Whether `value` is the SPIFFE ID of a workload (with a path, as an X.509-SVID carries it), by
 * `@zerotrust/workload`'s parser of the SPIFFE ID standard.
 */
export function isSpiffeId(value: unknown): value is string {
  if (typeof value !== 'string') return false
  try {
    return parseSpiffeId(value).path !== ''
  } catch {
    return false
  }
}

const tls = z.custom<Svid | SvidSource>((value) => isSvidSource(value) || isSvid(value), {
  error:
    'must be an SVID source (with "current" and "onRotate") or an SVID (PEM "certificate", "key" and "bundle", and its "spiffeId")',
})

const sink = option.callable<ClientEventSink>().optional()

const scope = z
  .union([z.string(), z.array(z.string())], { error: 'must be a string or an array of strings' })
  .refine(
    (value) =>
      (typeof value === 'string' ? [value] : value).every((s) => /^[\x21\x23-\x5b\x5d-\x7e ]*$/.test(s)),
    {
      error: 'must hold scope tokens of printable ASCII without " or \\',
    },
  )
  .optional()

const url = option.url()

const credentialsSchema = z
  .strictObject({
    issuer: url,
    clientId: option.nonEmptyString(),
    auth: z.custom<ClientAuthentication>((value) => clientAuthOf(value) !== undefined, {
      error: 'must be made by clientSecretBasic(), privateKeyJwt() or tlsClientAuth()',
    }),
    audience: option.nonEmptyString().optional(),
    resource: option.nonEmptyString().optional(),
    scope,
    tls: tls.optional(),
    issuerCa: option.nonEmptyString().optional(),
    tokenEndpoint: url.optional(),
    refreshBefore: option.milliseconds({ max: 3_600_000 }).optional(),
    refreshJitter: option.milliseconds({ max: 600_000 }).optional(),
    timeout: option.milliseconds({ min: 1, max: 300_000 }).optional(),
    maxCachedTokens: option.positiveInteger(100_000).optional(),
    onEvent: sink,
  })
  .superRefine((value, ctx) => {
    if (
      (value.auth as ClientAuthentication | undefined)?.method === 'tls_client_auth' &&
      value.tls === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'must be given for tlsClientAuth(): the certificate is the credential',
      })
    }
  }) satisfies OptionsSchema<ClientCredentialsOptions>

/** {@link ClientCredentialsOptions} with every default applied. */
export interface ClientCredentialsSettings {
  readonly issuer: string
  readonly clientId: string
  readonly auth: ClientAuthentication
  readonly audience: string | undefined
  readonly resource: string | undefined
  readonly scope: string | undefined
  readonly tls: Svid | SvidSource | undefined
  readonly issuerCa: string | undefined
  readonly tokenEndpoint: string | undefined
  readonly refreshBefore: number
  readonly refreshJitter: number
  readonly timeout: number
  readonly maxCachedTokens: number
  readonly onEvent: ClientEventSink | undefined
}

/** Checks `clientCredentials`' options and applies the defaults. */
export function clientCredentialsSettings(input: ClientCredentialsOptions): ClientCredentialsSettings {
  const parsed = parseOptions('clientCredentials', credentialsSchema, input)
  return Object.freeze({
    issuer: parsed.issuer,
    clientId: parsed.clientId,
    auth: parsed.auth,
    audience: parsed.audience,
    resource: parsed.resource,
    scope:
      parsed.scope === undefined
        ? undefined
        : typeof parsed.scope === 'string'
          ? parsed.scope
          : parsed.scope.join(' '),
    tls: parsed.tls,
    issuerCa: parsed.issuerCa,
    tokenEndpoint: parsed.tokenEndpoint,
    refreshBefore: parsed.refreshBefore ?? 60_000,
    refreshJitter: parsed.refreshJitter ?? 5_000,
    timeout: parsed.timeout ?? 10_000,
    maxCachedTokens: parsed.maxCachedTokens ?? 100,
    onEvent: parsed.onEvent,
  })
}

const spiffeId = z.custom<string>(isSpiffeId, {
  error: 'must be a SPIFFE ID (spiffe://<trust domain>/<path>)',
})

const retrySchema = z.union([
  z.literal(false),
  z.strictObject({
    attempts: option.integer({ min: 1, max: 10 }).optional(),
    baseDelay: option.milliseconds({ min: 1, max: 60_000 }).optional(),
    maxDelay: option.milliseconds({ min: 1, max: 300_000 }).optional(),
    maxRetryAfter: option.milliseconds({ max: 3_600_000 }).optional(),
  }),
])

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/

const clientSchema = z
  .strictObject({
    baseUrl: url.refine(
      (value) => {
        const parsed = checkEndpoint(value)
        return parsed !== undefined && parsed.search === '' && parsed.hash === ''
      },
      { error: 'must be an https URL without query or fragment (plain http only on loopback)' },
    ),
    tls: tls.optional(),
    expectPeer: z
      .union([spiffeId, z.array(spiffeId).min(1, { error: 'must not be empty' })], {
        error: 'must be a SPIFFE ID or a non-empty array of SPIFFE IDs',
      })
      .optional(),
    tokens: z
      .custom<TokenSource>(
        (value) =>
          typeof (value as TokenSource | undefined)?.token === 'function' &&
          typeof (value as TokenSource).invalidate === 'function',
        { error: 'must be a token source, with "token" and "invalidate" methods (clientCredentials())' },
      )
      .optional(),
    onBehalfOf: z
      .strictObject({
        tokens: z.custom<OnBehalfOfTokens>(
          (value) => typeof (value as OnBehalfOfTokens | undefined)?.mint === 'function',
          {
            error:
              'must mint tokens for a user, with a "mint" method (internalTokens() of @zerotrust/exchange)',
          },
        ),
        audience: option.nonEmptyString(),
        scope: z
          .union([z.string(), z.array(option.nonEmptyString())], {
            error: 'must be a space-separated string or an array of scopes',
          })
          .optional(),
      })
      .optional(),
    dpop: z
      .strictObject({
        key: z.custom<webcrypto.CryptoKeyPair>(isDpopKeyPair, {
          error:
            'must be a WebCrypto key pair that signs: ECDSA P-256, P-384 or P-521, Ed25519, RSASSA-PKCS1-v1_5 or RSA-PSS with SHA-256',
        }),
      })
      .optional(),
    retry: retrySchema.optional(),
    timeout: option.milliseconds({ min: 1, max: 3_600_000 }).optional(),
    deadline: option.milliseconds({ min: 1, max: 3_600_000 }).optional(),
    maxResponseBytes: option.positiveInteger(1024 * 1024 * 1024).optional(),
    headers: z
      .record(z.string(), z.string(), { error: 'must be an object of header names to string values' })
      .refine(
        (value) => Object.entries(value).every(([name, v]) => headerName.test(name) && headerValue.test(v)),
        {
          error: 'must hold header names that are tokens and values without control characters',
        },
      )
      .optional(),
    idempotencyKeys: option.boolean().optional(),
    connections: option.positiveInteger(10_000).optional(),
    onEvent: sink,
    propagate: z
      .custom<ContextPropagator>(
        (value) => typeof (value as ContextPropagator | undefined)?.inject === 'function',
        { error: 'must be a propagator, with an "inject" method (traceContext() of @zerotrust/otel)' },
      )
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.tls !== undefined && value.expectPeer === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['expectPeer'],
        message: 'must be given with "tls": the server is known by its SPIFFE ID, not by its hostname',
      })
    }
    if (value.expectPeer !== undefined && value.tls === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'must be given with "expectPeer": its bundle verifies the server',
      })
    }
    if (value.tls !== undefined && !value.baseUrl.startsWith('https:')) {
      ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: 'must be an https URL when "tls" is given' })
    }
    if (value.dpop !== undefined && value.tokens === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['dpop'],
        message: 'needs "tokens": a proof goes with an access token',
      })
    }
  }) satisfies OptionsSchema<ZeroTrustClientOptions>

/** The retry policy, defaults applied. */
export interface RetrySettings {
  readonly attempts: number
  readonly baseDelay: number
  readonly maxDelay: number
  readonly maxRetryAfter: number
}

/** {@link ZeroTrustClientOptions} with every default applied. */
export interface ZeroTrustClientSettings {
  readonly origin: string
  /** The base URL's path without its trailing `/`, prefixed to every call's path. */
  readonly prefix: string
  readonly tls: Svid | SvidSource | undefined
  readonly expectPeer: ReadonlySet<string> | undefined
  readonly peer: string | undefined
  readonly tokens: TokenSource | undefined
  readonly onBehalfOf: OnBehalfOfOptions | undefined
  readonly dpopKey: webcrypto.CryptoKeyPair | undefined
  readonly retry: RetrySettings
  readonly timeout: number
  readonly deadline: number
  readonly maxResponseBytes: number
  readonly headers: Readonly<Record<string, string>>
  /** Whether `headers` has any. */
  readonly hasHeaders: boolean
  readonly idempotencyKeys: boolean
  readonly connections: number
  readonly onEvent: ClientEventSink | undefined
  readonly propagate: ContextPropagator | undefined
}

/** The `onBehalfOf` option as the minter is handed it: `scope` absent rather than `undefined`. */
function onBehalfOfOf(
  given:
    | { tokens: OnBehalfOfTokens; audience: string; scope?: string | readonly string[] | undefined }
    | undefined,
): OnBehalfOfOptions | undefined {
  if (given === undefined) return undefined
  const { tokens, audience, scope } = given
  return Object.freeze(scope === undefined ? { tokens, audience } : { tokens, audience, scope })
}

/** Checks `zeroTrustClient`'s options and applies the defaults. */
export function zeroTrustClientSettings(input: ZeroTrustClientOptions): ZeroTrustClientSettings {
  const parsed = parseOptions('zeroTrustClient', clientSchema, input)
  const base = new URL(parsed.baseUrl)
  const peers =
    parsed.expectPeer === undefined
      ? undefined
      : typeof parsed.expectPeer === 'string'
        ? [parsed.expectPeer]
        : parsed.expectPeer
  const retry = parsed.retry === false ? { attempts: 1 } : (parsed.retry ?? {})
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(parsed.headers ?? {})) headers[name.toLowerCase()] = value
  return Object.freeze({
    origin: base.origin,
    prefix: base.pathname.replace(/\/+$/, ''),
    tls: parsed.tls,
    expectPeer: peers === undefined ? undefined : new Set(peers),
    peer: peers?.[0],
    tokens: parsed.tokens,
    onBehalfOf: onBehalfOfOf(parsed.onBehalfOf),
    dpopKey: parsed.dpop?.key,
    retry: Object.freeze({
      attempts: retry.attempts ?? 3,
      baseDelay: ('baseDelay' in retry ? retry.baseDelay : undefined) ?? 100,
      maxDelay: ('maxDelay' in retry ? retry.maxDelay : undefined) ?? 5_000,
      maxRetryAfter: ('maxRetryAfter' in retry ? retry.maxRetryAfter : undefined) ?? 30_000,
    }),
    timeout: parsed.timeout ?? 10_000,
    deadline: parsed.deadline ?? 30_000,
    maxResponseBytes: parsed.maxResponseBytes ?? 10 * 1024 * 1024,
    headers: Object.freeze(headers),
    hasHeaders: Object.keys(headers).length > 0,
    idempotencyKeys: parsed.idempotencyKeys ?? true,
    connections: parsed.connections ?? 64,
    onEvent: parsed.onEvent,
    propagate: parsed.propagate,
  })
}
