import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import type { JSONWebKeySet } from 'jose'
import { z } from 'zod'
import {
  asymmetricAlgorithms,
  hmacAlgorithms,
  isHmac,
  type JwtAlgorithm,
  minimumSecretBytes,
} from './algorithms.js'

/** A shared HMAC secret, or a getter returning the current one (picked up on rotation). */
export type SecretInput = string | Uint8Array | (() => string | Uint8Array | PromiseLike<string | Uint8Array>)

/** Options of `jwtBearer`. */
export interface JwtBearerOptions {
  /** The issuer(s) whose tokens are accepted; `iss` must equal one exactly. */
  readonly issuer: string | readonly string[]
  /** This resource server's identifier(s); `aud` must contain one. */
  readonly audience: string | readonly string[]
  /** The pinned JWS algorithms. Asymmetric algorithms need keys from a JWKS; HMAC ones a `secret`. */
  readonly algorithms: readonly JwtAlgorithm[]
  /** The issuer's JWKS URL; found by discovery when absent. Only with a single issuer. */
  readonly jwksUri?: string
  /** A static JWKS, for issuers whose keys are distributed out of band. Only with a single issuer. */
  readonly jwks?: JSONWebKeySet
  /** The shared secret for HS256/384/512; a getter picks up rotated secrets without restart. */
  readonly secret?: SecretInput
  /** The required `typ` header; `at+jwt` (RFC 9068) by default; `false` to accept any. */
  readonly typ?: string | false
  /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`; 5 by default, 300 at most. */
  readonly clockToleranceSeconds?: number
  /** @deprecated The old name of `clockToleranceSeconds`, still accepted. */
  readonly clockTolerance?: number
  /** Reject tokens whose `iat` is older than this many seconds. */
  readonly maxTokenAgeSeconds?: number
  /** @deprecated The old name of `maxTokenAgeSeconds`, still accepted. */
  readonly maxTokenAge?: number
  /**
   * Claims that must be present, on top of the baseline: the RFC 9068 set when `typ` is `at+jwt`, else
   * `iss exp aud`. The baseline cannot be removed.
   */
  readonly requiredClaims?: readonly string[]
  /** Longest token accepted, in characters, checked before parsing; 8192 by default. */
  readonly maxTokenLength?: number
  /** The `realm` of the `WWW-Authenticate` challenge. */
  readonly realm?: string
  /** The verified-token cache; `false` turns it off. */
  readonly cache?:
    | false
    | {
        /** Most tokens kept; 10 000 by default. */
        readonly max?: number
        /** Longest time in seconds a token stays cached (never past its `exp`); 600 by default. */
        readonly maxTtlSeconds?: number
        /** @deprecated The old name of `maxTtlSeconds`, still accepted. */
        readonly maxTtl?: number
      }
  /** Fetching of discovery metadata and JWKS. */
  readonly http?: {
    /** Milliseconds before a fetch is abandoned; 5000 by default. */
    readonly timeout?: number
    /**
     * Least milliseconds between the starts of two JWKS refetches made for unknown `kid`s; 5000 by
     * default, 1000 at least. Random `kid`s cost the issuer at most one fetch per cooldown, and a key
     * the issuer publishes is picked up within it.
     */
    readonly cooldown?: number
    /**
     * Longest milliseconds a token with an unknown `kid` waits for the next permitted refetch to start,
     * before a 503 with `Retry-After` (never a 401); 5000 by default, 0 to never wait, 60 000 at most.
     */
    readonly maxKeyWait?: number
    /**
     * Milliseconds after which keys are refreshed in the background; 600 000 by default, between 1000
     * and 86 400 000. While that refresh succeeds, it bounds how long a key removed from the JWKS keeps
     * verifying new tokens (this long after the last fetch, plus one fetch); while the issuer fails,
     * `maxStale` does.
     */
    readonly maxAge?: number
    /**
     * Longest milliseconds keys keep verifying after the last successful fetch, however refreshes fail
     * (the issuer down, or answering a set with no usable key); then every token is refused with a 503
     * (`jwks_stale`, with `Retry-After`, never a 401) until a fetch succeeds. 86 400 000 (a day) by
     * default, at least `maxAge`, 604 800 000 (a week) at most.
     */
    readonly maxStale?: number
    /** The fetch implementation, for a proxy or a custom agent; the global `fetch` by default. */
    readonly fetch?: typeof globalThis.fetch
  }
}

/** The claims every token must carry when `typ` is not `at+jwt`: without `exp` a token never expires. */
const baselineClaims = Object.freeze(['iss', 'exp', 'aud'])

/** RFC 9068 §2.2: the claims every JWT access token carries. */
export const rfc9068Claims = Object.freeze(['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'])

const oneOrMany = <T extends z.ZodType>(item: T, message: string) =>
  z.union([item, z.array(item).min(1)], { error: message })

const defaultMaxAge = 600_000
const defaultMaxStale = 86_400_000

const clockTolerance = option.fractionalSeconds(300)
const maxTokenAge = option.fractionalSeconds()
const maxTtl = option.seconds({ min: 1 })

const schema = z
  .strictObject(
    {
      issuer: oneOrMany(option.url(), 'must be an https URL or a non-empty array of them'),
      audience: oneOrMany(z.string().min(1), 'must be a non-empty string or a non-empty array of them'),
      algorithms: z
        .array(
          z.enum([...asymmetricAlgorithms, ...hmacAlgorithms], {
            error: 'must only name supported algorithms (never "none")',
          }),
          { error: 'must be a non-empty array of algorithm names' },
        )
        .min(1, { error: 'must be a non-empty array of algorithm names' }),
      jwksUri: option.url().optional(),
      // Not strict: a JWKS is data and may carry members of its own. jose checks each key on import.
      jwks: z
        .object({ keys: z.array(z.record(z.string(), z.unknown())) }, { error: 'must be a JSON Web Key Set' })
        .transform((jwks) => jwks as JSONWebKeySet)
        .optional(),
      secret: z
        .union(
          [
            z.string().min(1),
            z.instanceof(Uint8Array),
            option.callable<Exclude<SecretInput, string | Uint8Array>>(),
          ],
          {
            error: 'must be a string, a Uint8Array or a function returning one',
          },
        )
        .optional(),
      typ: z
        .union([z.string().min(1), z.literal(false)], { error: 'must be a non-empty string or false' })
        .optional(),
      clockToleranceSeconds: clockTolerance.optional(),
      clockTolerance: clockTolerance.optional(),
      maxTokenAgeSeconds: maxTokenAge.optional(),
      maxTokenAge: maxTokenAge.optional(),
      requiredClaims: z.array(z.string().min(1), { error: 'must be an array of claim names' }).optional(),
      maxTokenLength: option.positiveInteger().optional(),
      realm: z.string({ error: 'must be a string' }).optional(),
      cache: z
        .union(
          [
            z.literal(false),
            z
              .strictObject({
                max: option.positiveInteger().optional(),
                maxTtlSeconds: maxTtl.optional(),
                maxTtl: maxTtl.optional(),
              })
              .superRefine(option.renamed({ maxTtl: 'maxTtlSeconds' })),
          ],
          { error: 'must be false or { max, maxTtlSeconds }' },
        )
        .optional(),
      http: z
        .strictObject(
          {
            timeout: option.milliseconds({ min: 1 }).optional(),
            // Below a second, random `kid`s could drive back-to-back JWKS fetches.
            cooldown: option.milliseconds({ min: 1000 }).optional(),
            maxKeyWait: option.milliseconds({ min: 0, max: 60_000 }).optional(),
            // Below a second every request could start a refresh; past a day a removed key lives on too long.
            maxAge: option.milliseconds({ min: 1000, max: 86_400_000 }).optional(),
            // The hard bound on a removed key when refreshes fail: a week at most.
            maxStale: option.milliseconds({ min: 1000, max: 604_800_000 }).optional(),
            fetch: option.callable<typeof globalThis.fetch>('must be a fetch function').optional(),
          },
          { error: 'must be an object' },
        )
        .superRefine((http, ctx) => {
          // Under maxAge, keys would stop verifying before their refresh is even due.
          if (http.maxStale !== undefined && http.maxStale < (http.maxAge ?? defaultMaxAge)) {
            ctx.addIssue({ code: 'custom', path: ['maxStale'], message: 'must be at least "http.maxAge"' })
          }
        })
        .optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine(option.renamed({ clockTolerance: 'clockToleranceSeconds', maxTokenAge: 'maxTokenAgeSeconds' }))
  .superRefine((o, ctx) => {
    const issuers = typeof o.issuer === 'string' ? [o.issuer] : o.issuer
    const hmac = o.algorithms.filter(isHmac)
    const sources = [o.jwksUri, o.jwks, o.secret].filter((s) => s !== undefined).length
    if (sources > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwksUri'],
        message: 'cannot be combined with "jwks" or "secret"',
      })
    }
    if ((o.jwksUri !== undefined || o.jwks !== undefined || o.secret !== undefined) && issuers.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'must be a single issuer when keys are configured explicitly',
      })
    }
    // RFC 8725 §3.1 / §2.2: never let one issuer's tokens choose between a secret and a public key.
    if (hmac.length > 0 && hmac.length !== o.algorithms.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['algorithms'],
        message: 'cannot mix HMAC and asymmetric algorithms',
      })
    }
    if (hmac.length > 0 && o.secret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'is required for HMAC algorithms' })
    }
    if (o.secret !== undefined && hmac.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['algorithms'],
        message: 'must be HMAC algorithms when "secret" is set',
      })
    }
    if (typeof o.secret === 'string' || o.secret instanceof Uint8Array) {
      const bytes = typeof o.secret === 'string' ? Buffer.byteLength(o.secret) : o.secret.byteLength
      const needed = Math.max(...hmac.map((alg) => minimumSecretBytes[alg]), 0)
      if (bytes < needed) {
        ctx.addIssue({ code: 'custom', path: ['secret'], message: `must be at least ${needed} bytes long` })
      }
    }
  }) satisfies OptionsSchema<JwtBearerOptions>

/** The options of `jwtBearer` after checking, with every default filled in. */
export interface JwtBearerSettings {
  readonly issuers: readonly string[]
  readonly audience: readonly string[]
  readonly algorithms: readonly JwtAlgorithm[]
  readonly jwksUri: string | undefined
  readonly jwks: JSONWebKeySet | undefined
  readonly secret: SecretInput | undefined
  readonly typ: string | undefined
  readonly clockTolerance: number
  readonly maxTokenAge: number | undefined
  readonly requiredClaims: readonly string[]
  readonly maxTokenLength: number
  readonly realm: string | undefined
  readonly cache: { readonly max: number; readonly maxTtl: number } | undefined
  readonly http: {
    readonly timeout: number
    readonly cooldown: number
    readonly maxKeyWait: number
    readonly maxAge: number
    readonly maxStale: number
    readonly fetch: typeof globalThis.fetch
  }
}

/**
 * Checks `jwtBearer` options once, at construction.
 *
 * @throws TypeError naming the option
 */
export function jwtBearerSettings(input: unknown): JwtBearerSettings {
  const o = parseOptions('jwtBearer', schema, input)
  const typ = o.typ === undefined ? 'at+jwt' : o.typ === false ? undefined : o.typ
  const atJwt = typ !== undefined && typ.replace(/^application\//i, '').toLowerCase() === 'at+jwt'
  return Object.freeze({
    issuers: Object.freeze(typeof o.issuer === 'string' ? [o.issuer] : [...o.issuer]),
    audience: Object.freeze(typeof o.audience === 'string' ? [o.audience] : [...o.audience]),
    algorithms: Object.freeze([...o.algorithms]),
    jwksUri: o.jwksUri,
    jwks: o.jwks,
    secret: o.secret,
    typ,
    clockTolerance: o.clockToleranceSeconds ?? o.clockTolerance ?? 5,
    maxTokenAge: o.maxTokenAgeSeconds ?? o.maxTokenAge,
    requiredClaims: Object.freeze([
      ...new Set([...(atJwt ? rfc9068Claims : baselineClaims), ...(o.requiredClaims ?? [])]),
    ]),
    maxTokenLength: o.maxTokenLength ?? 8192,
    realm: o.realm,
    cache:
      o.cache === false
        ? undefined
        : { max: o.cache?.max ?? 10_000, maxTtl: o.cache?.maxTtlSeconds ?? o.cache?.maxTtl ?? 600 },
    http: {
      timeout: o.http?.timeout ?? 5000,
      cooldown: o.http?.cooldown ?? 5000,
      maxKeyWait: o.http?.maxKeyWait ?? 5000,
      maxAge: o.http?.maxAge ?? defaultMaxAge,
      maxStale: o.http?.maxStale ?? defaultMaxStale,
      fetch: o.http?.fetch ?? ((...args) => globalThis.fetch(...args)),
    },
  })
}
