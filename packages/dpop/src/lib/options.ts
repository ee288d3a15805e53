import type { ReplayStore } from '@zerotrust/core'
import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'
import type { NonceSecret } from './nonces.js'
import { type DpopAlgorithm, dpopAlgorithms } from './proof-key.js'

/** Server nonces (RFC 9449 §8): once on, every proof must carry a current one. */
export interface DpopNonceOptions {
  /**
   * The HMAC key of the stateless nonces, at least 32 bytes, shared by every replica; or a getter of the
   * current one (a `Secret` from `@zerotrust/secrets`: `() => secret.current()`).
   */
  readonly secret: NonceSecret
  /** Seconds a nonce is current; it is still accepted for one more period. 300 by default, 10 to 3600. */
  readonly lifetimeSeconds?: number
  /** @deprecated The old name of `lifetimeSeconds`, still accepted. */
  readonly lifetime?: number
}

/** Options of `dpop`. */
export interface DpopOptions {
  /** The proof algorithms accepted, asymmetric only; ES256, ES384, ES512, EdDSA, Ed25519, PS256 and RS256 by default. */
  readonly algorithms?: readonly DpopAlgorithm[]
  /**
   * `true`: only `Authorization: DPoP` with a proof is accepted. `false` (the default): plain bearer
   * tokens that are not DPoP-bound are accepted too, through the inner authenticator.
   */
  readonly required?: boolean
  /** Seconds a proof stays acceptable after its `iat`; 60 by default, at most 300. */
  readonly maxProofAgeSeconds?: number
  /** @deprecated The old name of `maxProofAgeSeconds`, still accepted. */
  readonly maxProofAge?: number
  /** Seconds a proof's `iat` may lie in the future (clock skew); 5 by default, at most 60. */
  readonly clockToleranceSeconds?: number
  /** @deprecated The old name of `clockToleranceSeconds`, still accepted. */
  readonly clockTolerance?: number
  /** Where proof `jti`s are remembered; a bounded memory store by default. */
  readonly replayStore?: ReplayStore
  /** Server nonces; off by default. */
  readonly nonce?: DpopNonceOptions
  /** Longest proof accepted, in characters, checked before any parsing; 8192 by default. */
  readonly maxProofLength?: number
  /** Proof keys kept imported, by thumbprint; 1000 by default. */
  readonly keyCacheSize?: number
  /** The `realm` of the challenges. */
  readonly realm?: string
}

const maxProofAge = option.seconds({ min: 1, max: 300 })
const clockTolerance = option.seconds({ max: 60 })
const lifetime = option.seconds({ min: 10, max: 3600 })

const schema = z
  .strictObject(
    {
      algorithms: z
        .array(z.enum(dpopAlgorithms, { error: `must list algorithms among ${dpopAlgorithms.join(', ')}` }), {
          error: 'must be an array of algorithms',
        })
        .min(1, { error: 'must not be empty' })
        .optional(),
      required: option.boolean().optional(),
      maxProofAgeSeconds: maxProofAge.optional(),
      maxProofAge: maxProofAge.optional(),
      clockToleranceSeconds: clockTolerance.optional(),
      clockTolerance: clockTolerance.optional(),
      replayStore: z
        .custom<ReplayStore>((value) => typeof (value as ReplayStore | undefined)?.claim === 'function', {
          error: 'must be a replay store, with a "claim" method',
        })
        .optional(),
      nonce: z
        .strictObject(
          {
            secret: z.custom<NonceSecret>(
              (value) =>
                typeof value === 'string' || value instanceof Uint8Array || typeof value === 'function',
              { error: 'must be a string, a Uint8Array or a getter' },
            ),
            lifetimeSeconds: lifetime.optional(),
            lifetime: lifetime.optional(),
          },
          { error: 'must be an object with a "secret"' },
        )
        .superRefine(option.renamed({ lifetime: 'lifetimeSeconds' }))
        .optional(),
      maxProofLength: option.integer({ min: 256, max: 65_536 }).optional(),
      keyCacheSize: option.positiveInteger().optional(),
      realm: z.string({ error: 'must be a string' }).optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine(
    option.renamed({ maxProofAge: 'maxProofAgeSeconds', clockTolerance: 'clockToleranceSeconds' }),
  ) satisfies OptionsSchema<DpopOptions>

/** The options of `dpop` after checking, with every default filled in. */
export interface DpopSettings {
  readonly algorithms: ReadonlySet<DpopAlgorithm>
  readonly algorithmList: string
  readonly required: boolean
  readonly maxProofAge: number
  readonly clockTolerance: number
  readonly replayStore: ReplayStore | undefined
  readonly nonce: { readonly secret: NonceSecret; readonly lifetime: number } | undefined
  readonly maxProofLength: number
  readonly keyCacheSize: number
  readonly realm: string | undefined
}

/**
 * Checks `dpop` options once.
 *
 * @throws TypeError naming the option
 */
export function dpopSettings(input: unknown): DpopSettings {
  const o = parseOptions('dpop', schema, input)
  const algorithms = o.algorithms ?? ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'RS256']
  return Object.freeze({
    algorithms: new Set(algorithms),
    algorithmList: [...new Set(algorithms)].join(' '),
    required: o.required ?? false,
    maxProofAge: o.maxProofAgeSeconds ?? o.maxProofAge ?? 60,
    clockTolerance: o.clockToleranceSeconds ?? o.clockTolerance ?? 5,
    replayStore: o.replayStore,
    nonce:
      o.nonce === undefined
        ? undefined
        : { secret: o.nonce.secret, lifetime: o.nonce.lifetimeSeconds ?? o.nonce.lifetime ?? 300 },
    maxProofLength: o.maxProofLength ?? 8192,
    keyCacheSize: o.keyCacheSize ?? 1000,
    realm: o.realm,
  })
}

/** Options of `memoryReplayStore`. */
export interface MemoryReplayStoreOptions {
  /**
   * Most identifiers remembered at once; 100 000 by default. When every slot holds an identifier still
   * inside its window, new proofs are refused with a 503 rather than forgetting one early, which would let
   * its replay through.
   */
  readonly maxEntries?: number
}

const memoryReplayStoreSchema = z.strictObject(
  { maxEntries: option.positiveInteger().optional() },
  { error: 'must be an object' },
) satisfies OptionsSchema<MemoryReplayStoreOptions>

/** The options of `memoryReplayStore` after checking, with every default filled in. */
export interface MemoryReplayStoreSettings {
  readonly maxEntries: number
}

/**
 * Checks `memoryReplayStore` options once.
 *
 * @throws TypeError naming the option
 */
export function memoryReplayStoreSettings(input: unknown): MemoryReplayStoreSettings {
  const o = parseOptions('memoryReplayStore', memoryReplayStoreSchema, input)
  return Object.freeze({ maxEntries: o.maxEntries ?? 100_000 })
}
