import { z } from 'zod'
import { checkEndpoint } from './endpoint.js'

/**
 * Parses a factory's options with a zod schema once, at construction. Any mistake throws a `TypeError`
 * naming the option, in the shape `jwtBearer: "clockTolerance" option must be a non-negative number`.
 *
 * Write schema messages as the rest of a sentence that starts with the option's name ("must be …"); the
 * {@link option} schemas do.
 *
 * @example
 * const options = parseOptions('jwtBearer', schema, input)
 */
export function parseOptions<S extends z.ZodType>(factory: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  if (issue === undefined) throw optionError(factory, undefined, 'are invalid')
  const path = issue.path.map(String).join('.')
  if (issue.code === 'unrecognized_keys') {
    throw optionError(factory, [path, issue.keys[0]].filter(Boolean).join('.'), 'is not recognized')
  }
  throw optionError(factory, path === '' ? undefined : path, sentence(issue.message))
}

/** What an option mistake says, as data: the factory, the option (none for the options as a whole), the rule. */
export interface OptionMistake {
  readonly factory: string
  readonly option: string | undefined
  readonly rule: string
}

/**
 * The `TypeError` of an option mistake, in the one shape of every factory: `requireScopes: "match" option
 * must be "all" or "any"`, or `authenticate: options must be an object` when `option` is `undefined`.
 * Checks written by hand throw it, and {@link parseOptions} does. Its `cause` is the
 * {@link OptionMistake}, so a caller that passed the option on (a Fastify route's `config.zeroTrust`)
 * can name it as its user wrote it without reading the message.
 *
 * @example
 * if (typeof realm !== 'string') throw optionError('errorHandler', 'realm', 'must be a string')
 */
export function optionError(factory: string, option: string | undefined, rule: string): TypeError {
  const mistake: OptionMistake = Object.freeze({ factory, option, rule })
  const subject = option === undefined ? 'options' : `"${option}" option`
  return new TypeError(`${factory}: ${subject} ${rule}`, { cause: mistake })
}

function sentence(message: string): string {
  if (/^(must|is|are|cannot|needs)\b/.test(message)) return message
  // zod's own messages ("Invalid input: expected string, received number") read as a reason.
  return `is invalid: ${message.charAt(0).toLowerCase()}${message.slice(1)}`
}

/**
 * What a schema of options `T` must produce: `T`, except that an optional option may also come out as
 * `undefined` (zod's `.optional()`, which accepts an explicit `undefined` as users' code often passes).
 * Write `z.strictObject({ … }) satisfies OptionsSchema<FactoryOptions>` so the schema cannot accept what
 * the options interface does not declare, nor declare it with another type.
 */
export type OptionsSchema<T> = z.ZodType<Parsed<T>>

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T]

/** {@link OptionsSchema}'s view of `T`, applied to nested option objects, arrays and unions. */
export type Parsed<T> = T extends (...args: never) => unknown
  ? T
  : T extends Uint8Array | URL | Date | RegExp
    ? T
    : T extends readonly unknown[]
      ? { readonly [I in keyof T]: Parsed<T[I]> }
      : T extends object
        ? { readonly [K in Exclude<keyof T, OptionalKeys<T>>]: Parsed<T[K]> } & {
            readonly [K in OptionalKeys<T>]?: Parsed<Exclude<T[K], undefined>> | undefined
          }
        : T

/** Bounds of an integer option; `min` is 0 by default and `max` the largest safe integer. */
export interface IntegerBounds {
  readonly min?: number
  readonly max?: number
}

// One sentence per option whatever failed (type, fraction, range), so a user reads the rule at once.
function integerMessage(min: number, max: number, unit: string | undefined): string {
  const kind = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : 'an integer'
  const of = unit === undefined ? '' : ` number of ${unit}`
  const bounded = max !== Number.MAX_SAFE_INTEGER
  if (min === 0 || min === 1) return `must be ${kind}${of}${bounded ? `, at most ${max}` : ''}`
  return `must be ${kind}${of}, ${bounded ? `from ${min} to ${max}` : `at least ${min}`}`
}

// A refinement rather than `.int()`, which aborts and would leave a union (`false | { max }`) without a
// branch to report on.
function integer({ min = 0, max = Number.MAX_SAFE_INTEGER }: IntegerBounds, unit?: string) {
  const error = integerMessage(min, max, unit)
  return z.number({ error }).refine((v) => Number.isSafeInteger(v) && v >= min && v <= max, { error })
}

/**
 * The zod schemas options are made of, with messages in the shape {@link parseOptions} expects. One
 * convention for every package: a duration is in milliseconds unless its option's name ends in `Seconds`
 * (where the protocol counts in seconds: JWT times, `Retry-After`).
 *
 * @example
 * const schema = z.strictObject({
 *   timeout: option.milliseconds({ min: 1 }).optional(),
 *   clockToleranceSeconds: option.seconds({ max: 300 }).optional(),
 *   issuer: option.url(),
 * }) satisfies OptionsSchema<MyOptions>
 */
export const option = Object.freeze({
  /** An integer within `bounds`: "must be a non-negative integer", "must be an integer, from 1 to 10". */
  integer: (bounds: IntegerBounds = {}) => integer(bounds),
  /** An integer of at least 1, at most `max`: "must be a positive integer". */
  positiveInteger: (max?: number) => integer(max === undefined ? { min: 1 } : { min: 1, max }),
  /** A whole number of milliseconds within `bounds` (0 and up by default). */
  milliseconds: (bounds: IntegerBounds = {}) => integer(bounds, 'milliseconds'),
  /** A whole number of seconds within `bounds` (0 and up by default). */
  seconds: (bounds: IntegerBounds = {}) => integer(bounds, 'seconds'),
  /** A non-negative number of seconds, fractions allowed, at most `max`: a clock tolerance. */
  fractionalSeconds: (max?: number) => {
    const error = `must be a non-negative number of seconds${max === undefined ? '' : `, at most ${max}`}`
    return z
      .number({ error })
      .refine((v) => Number.isFinite(v) && v >= 0 && (max === undefined || v <= max), { error })
  },
  /** A string of at least one character. */
  nonEmptyString: () => {
    const error = 'must be a non-empty string'
    return z.string({ error }).min(1, { error })
  },
  /** A boolean. */
  boolean: () => z.boolean({ error: 'must be a boolean' }),
  /** An https URL, or plain http on a loopback host (see `checkEndpoint`). */
  url: () => {
    const error = 'must be an https URL (plain http only on loopback)'
    return z
      .string({ error })
      .min(1, { error })
      .refine((value) => checkEndpoint(value) !== undefined, { error })
  },
  /** A function of type `F`; `message` says which ("must be a fetch function"). */
  callable: <F extends (...args: never) => unknown>(message = 'must be a function') =>
    z.custom<F>((value) => typeof value === 'function', { error: message }),
  /**
   * A refinement for an object of options where some were renamed (`{ oldName: 'newName' }`): the old
   * name keeps working, but setting both is a mistake, since one of them would be silently ignored.
   */
  renamed:
    (names: Readonly<Record<string, string>>) =>
    (value: object, ctx: z.RefinementCtx): void => {
      for (const [old, current] of Object.entries(names)) {
        if ((value as Record<string, unknown>)[old] === undefined) continue
        if ((value as Record<string, unknown>)[current] === undefined) continue
        ctx.addIssue({
          code: 'custom',
          path: [old],
          message: `is the deprecated name of "${current}": set only one`,
        })
      }
    },
})
