import { parseOptions, type ReplayStore } from '@zerotrust/core'
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
  /** Seconds a nonce is current; it is still accepted for one more period. 300 by default. */
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
  readonly maxProofAge?: number
  /** Seconds a proof's `iat` may lie in the future (clock skew); 5 by default, at most 60. */
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

const positiveInteger = z.number({ error: 'must be a positive integer' }).int('must be a positive integer')

const schema = z
  .object({
    algorithms: z
      .array(z.enum(dpopAlgorithms, { error: `must list algorithms among ${dpopAlgorithms.join(', ')}` }), {
        error: 'must be an array of algorithms',
      })
      .min(1, 'must not be empty')
      .optional(),
    required: z.boolean({ error: 'must be a boolean' }).optional(),
    maxProofAge: positiveInteger
      .min(1, 'must be a positive integer')
      .max(300, 'must be at most 300')
      .optional(),
    clockTolerance: z
      .number({ error: 'must be a non-negative integer' })
      .int('must be a non-negative integer')
      .min(0, 'must be a non-negative integer')
      .max(60, 'must be at most 60')
      .optional(),
    replayStore: z
      .custom<ReplayStore>((value) => typeof (value as ReplayStore | undefined)?.claim === 'function', {
        error: 'must be a replay store, with a "claim" method',
      })
      .optional(),
    nonce: z
      .object(
        {
          secret: z.custom<NonceSecret>(
            (value) =>
              typeof value === 'string' || value instanceof Uint8Array || typeof value === 'function',
            { error: 'must be a string, a Uint8Array or a getter' },
          ),
          lifetime: positiveInteger
            .min(10, 'must be at least 10')
            .max(3600, 'must be at most 3600')
            .optional(),
        },
        { error: 'must be an object with a "secret"' },
      )
      .strict()
      .optional(),
    maxProofLength: positiveInteger
      .min(256, 'must be at least 256')
      .max(65_536, 'must be at most 65536')
      .optional(),
    keyCacheSize: positiveInteger.min(1, 'must be a positive integer').optional(),
    realm: z.string({ error: 'must be a string' }).optional(),
  })
  .strict()

/** {@link DpopOptions} with defaults, checked once. */
export interface ParsedDpopOptions {
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
export function parseDpopOptions(input: unknown): ParsedDpopOptions {
  if (input === null || typeof input !== 'object') throw new TypeError('dpop: options must be an object')
  const o = parseOptions('dpop', schema, input)
  const algorithms = o.algorithms ?? ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'RS256']
  return Object.freeze({
    algorithms: new Set(algorithms),
    algorithmList: [...new Set(algorithms)].join(' '),
    required: o.required ?? false,
    maxProofAge: o.maxProofAge ?? 60,
    clockTolerance: o.clockTolerance ?? 5,
    replayStore: o.replayStore,
    nonce: o.nonce === undefined ? undefined : { secret: o.nonce.secret, lifetime: o.nonce.lifetime ?? 300 },
    maxProofLength: o.maxProofLength ?? 8192,
    keyCacheSize: o.keyCacheSize ?? 1000,
    realm: o.realm,
  })
}
