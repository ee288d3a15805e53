import { checkEndpoint, type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import type { CryptoKey } from 'oauth4webapi'
import { z } from 'zod'

/**
 * A client secret, or a getter returning the current one: it is called per introspection, so a rotated
 * secret is picked up without a restart.
 */
export type ClientSecret = string | (() => string | PromiseLike<string>)

/** A private key for `private_key_jwt`, with the `kid` the authorization server knows it by. */
export interface ClientPrivateKey {
  readonly key: CryptoKey
  readonly kid?: string
}

/**
 * How this resource server authenticates at the introspection endpoint (RFC 7662 §2.1 requires it).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */
export type ClientAuthentication =
  | { readonly method: 'client_secret_basic' | 'client_secret_post'; readonly secret: ClientSecret }
  | { readonly method: 'private_key_jwt'; readonly key: CryptoKey | ClientPrivateKey }

/** Options of `introspection`. */
export interface IntrospectionOptions {
  /** The authorization server; a response's `iss` must equal it exactly, and discovery starts from it. */
  readonly issuer: string
  /** This resource server's identifier(s); a response's `aud`, when present, must contain one. */
  readonly audience: string | readonly string[]
  /** The introspection endpoint; found through the issuer's metadata when absent. */
  readonly introspectionEndpoint?: string
  /** This resource server's client id at the authorization server. */
  readonly clientId: string
  /** How this resource server authenticates at the introspection endpoint. */
  readonly clientAuthentication: ClientAuthentication
  /**
   * Milliseconds before an introspection (or discovery) is abandoned, and the longest a request waits for
   * a free slot before that (see `maxConcurrent`); 5000 by default.
   */
  readonly timeout?: number
  /** The introspection cache; `false` turns it off (every request then costs a round trip). */
  readonly cache?:
    | false
    | {
        /** Most tokens kept; 10 000 by default. */
        readonly max?: number
        /** Longest time in seconds an active token stays cached (never past its `exp`); 300 by default. */
        readonly maxTtlSeconds?: number
        /** @deprecated The old name of `maxTtlSeconds`, still accepted. */
        readonly maxTtl?: number
        /** Seconds an inactive answer stays cached; 10 by default; 0 turns it off. */
        readonly inactiveTtlSeconds?: number
        /** @deprecated The old name of `inactiveTtlSeconds`, still accepted. */
        readonly inactiveTtl?: number
        /**
         * Most inactive answers kept, apart from the active ones so that a flood of bad tokens cannot
         * evict good ones; 10 000 by default.
         */
        readonly inactiveMax?: number
      }
  /**
   * Most introspections in flight at once for this authenticator; 16 by default. Concurrent requests with
   * one token share one introspection and count once.
   */
  readonly maxConcurrent?: number
  /**
   * Most introspections waiting for a free slot; 128 by default, 0 for none. Beyond it, and after waiting
   * `timeout`, a request is refused with 503 `introspection_overloaded`.
   */
  readonly maxQueued?: number
  /** Seconds of clock skew tolerated on `exp` and `nbf`; 5 by default. */
  readonly clockToleranceSeconds?: number
  /** @deprecated The old name of `clockToleranceSeconds`, still accepted. */
  readonly clockTolerance?: number
  /** The `realm` of the `WWW-Authenticate` challenge. */
  readonly realm?: string
  /** Longest token accepted, in characters, checked before anything else; 8192 by default. */
  readonly maxTokenLength?: number
  /**
   * Whether tokens shaped like a JWT (three base64url segments) are introspected too; `false` by default,
   * so that `anyOf(jwtBearer(...), introspection(...))` sends JWTs to local verification only.
   */
  readonly acceptJwtShaped?: boolean
  /**
   * Ask for RFC 9701 signed answers (`application/token-introspection+jwt`) and verify their signature
   * with the issuer's keys (its `jwks_uri`, from discovery or `jwksUri`); an unsigned answer is then
   * refused. `false` by default.
   */
  readonly signedResponses?: boolean
  /** The issuer's JWKS URL, for `signedResponses` with an explicit `introspectionEndpoint`. */
  readonly jwksUri?: string
  /** The fetch implementation, for a proxy, a custom agent or tests; the global `fetch` by default. */
  readonly fetch?: typeof globalThis.fetch
}

const privateKey = z.custom<CryptoKey>((v) => isPrivateKey(v), {
  error: 'must be a private CryptoKey or { key, kid }',
})
function isPrivateKey(value: unknown): boolean {
  // Checked by shape: CryptoKey objects from another realm or copy of webcrypto are valid too.
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.prototype.toString.call(value) === '[object CryptoKey]' &&
    (value as { type?: unknown }).type === 'private'
  )
}
const audienceMessage = 'must be a non-empty string or a non-empty array of them'
const secretMessage = 'must be a non-empty string or a function returning one'
const maxTtl = option.seconds({ min: 1 })
const inactiveTtl = option.seconds()
const clockTolerance = option.fractionalSeconds()

const schema = z
  .strictObject(
    {
      issuer: option.url(),
      audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1, { error: audienceMessage })], {
        error: audienceMessage,
      }),
      introspectionEndpoint: option.url().optional(),
      clientId: option.nonEmptyString(),
      clientAuthentication: z.discriminatedUnion(
        'method',
        [
          z.strictObject({
            method: z.enum(['client_secret_basic', 'client_secret_post']),
            secret: z.union([z.string().min(1), option.callable<Exclude<ClientSecret, string>>()], {
              error: secretMessage,
            }),
          }),
          z.strictObject({
            method: z.literal('private_key_jwt'),
            key: z.union([
              privateKey,
              z.strictObject({ key: privateKey, kid: option.nonEmptyString().optional() }),
            ]),
          }),
        ],
        {
          error:
            'must be { method: "client_secret_basic" | "client_secret_post", secret } or { method: "private_key_jwt", key }',
        },
      ),
      timeout: option.milliseconds({ min: 1 }).optional(),
      cache: z
        .union([
          z.literal(false),
          z
            .strictObject({
              max: option.positiveInteger().optional(),
              maxTtlSeconds: maxTtl.optional(),
              maxTtl: maxTtl.optional(),
              inactiveTtlSeconds: inactiveTtl.optional(),
              inactiveTtl: inactiveTtl.optional(),
              inactiveMax: option.positiveInteger().optional(),
            })
            .superRefine(option.renamed({ maxTtl: 'maxTtlSeconds', inactiveTtl: 'inactiveTtlSeconds' })),
        ])
        .optional(),
      maxConcurrent: option.positiveInteger().optional(),
      maxQueued: option.integer().optional(),
      clockToleranceSeconds: clockTolerance.optional(),
      clockTolerance: clockTolerance.optional(),
      realm: z.string({ error: 'must be a string' }).optional(),
      maxTokenLength: option.positiveInteger().optional(),
      acceptJwtShaped: option.boolean().optional(),
      signedResponses: option.boolean().optional(),
      jwksUri: option.url().optional(),
      fetch: option.callable<typeof globalThis.fetch>('must be a fetch function').optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine(option.renamed({ clockTolerance: 'clockToleranceSeconds' }))
  .superRefine((o, ctx) => {
    // Without discovery, nothing else names the keys that sign the answers.
    if (o.signedResponses === true && o.introspectionEndpoint !== undefined && o.jwksUri === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwksUri'],
        message: 'is required for "signedResponses" with "introspectionEndpoint"',
      })
    }
  }) satisfies OptionsSchema<IntrospectionOptions>

/** The options of `introspection` after checking, with every default filled in. */
export interface IntrospectionSettings {
  readonly issuer: string
  readonly audience: readonly string[]
  readonly introspectionEndpoint: URL | undefined
  readonly clientId: string
  readonly clientAuthentication: ClientAuthentication
  readonly timeout: number
  readonly cache:
    | {
        readonly max: number
        readonly maxTtl: number
        readonly inactiveTtl: number
        readonly inactiveMax: number
      }
    | undefined
  readonly maxConcurrent: number
  readonly maxQueued: number
  readonly clockTolerance: number
  readonly realm: string | undefined
  readonly maxTokenLength: number
  readonly acceptJwtShaped: boolean
  readonly signedResponses: boolean
  readonly jwksUri: URL | undefined
  readonly fetch: typeof globalThis.fetch
}

/**
 * Checks `introspection` options once, at construction, and fills in the defaults.
 *
 * @throws TypeError naming the option
 */
export function introspectionSettings(input: unknown): IntrospectionSettings {
  const o = parseOptions('introspection', schema, input)
  return Object.freeze({
    issuer: o.issuer,
    audience: Object.freeze(typeof o.audience === 'string' ? [o.audience] : [...o.audience]),
    introspectionEndpoint:
      o.introspectionEndpoint === undefined ? undefined : checkEndpoint(o.introspectionEndpoint),
    clientId: o.clientId,
    clientAuthentication: Object.freeze({ ...o.clientAuthentication }) as ClientAuthentication,
    timeout: o.timeout ?? 5000,
    cache:
      o.cache === false
        ? undefined
        : Object.freeze({
            max: o.cache?.max ?? 10_000,
            maxTtl: o.cache?.maxTtlSeconds ?? o.cache?.maxTtl ?? 300,
            inactiveTtl: o.cache?.inactiveTtlSeconds ?? o.cache?.inactiveTtl ?? 10,
            inactiveMax: o.cache?.inactiveMax ?? 10_000,
          }),
    maxConcurrent: o.maxConcurrent ?? 16,
    maxQueued: o.maxQueued ?? 128,
    clockTolerance: o.clockToleranceSeconds ?? o.clockTolerance ?? 5,
    realm: o.realm,
    maxTokenLength: o.maxTokenLength ?? 8192,
    acceptJwtShaped: o.acceptJwtShaped ?? false,
    signedResponses: o.signedResponses ?? false,
    jwksUri: o.jwksUri === undefined ? undefined : checkEndpoint(o.jwksUri),
    fetch: o.fetch ?? defaultFetch,
  })
}

// Late-bound, so a global fetch replaced after construction (by a test or an instrumentation) is used.
const defaultFetch: typeof globalThis.fetch = (input, init) => globalThis.fetch(input, init)
