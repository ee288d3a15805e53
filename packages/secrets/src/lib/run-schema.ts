import type { z } from 'zod'

/** The parts of a zod object schema used here. */
export type ObjectSchema = z.ZodType<Record<string, unknown>> & { readonly shape: Record<string, unknown> }

/** The `problem` of a schema run that threw instead of answering (see {@link runSchema}). */
export const schemaException = 'exception'

/** One secret that failed the schema: its name (`undefined` for the object as a whole) and why. */
export interface SchemaProblem {
  readonly name: string | undefined
  /** A zod issue code with a bound where zod gives one (`too_small: minimum 32`), or `exception`. */
  readonly problem: string
}

/** What a contained schema run gives: the parsed values, or one problem per failing name. */
export type SchemaResult =
  | { readonly success: true; readonly data: Record<string, unknown> }
  | { readonly success: false; readonly problems: readonly SchemaProblem[] }

type Outcome =
  | { readonly kind: 'parsed'; readonly data: unknown }
  | { readonly kind: 'issues'; readonly issues: readonly z.core.$ZodIssue[] }
  | { readonly kind: 'threw' }

/**
 * Runs the secret schema over raw values: the one place a schema runs, so every run is contained.
 *
 * zod 4 lets an exception from a `.transform()`, `.refine()` or error map escape `safeParse` (say
 * `z.string().transform(JSON.parse)` given text that is not JSON), and such an exception usually quotes
 * the value (`Unexpected token … "the value" is not valid JSON`). Here it counts as failing the schema and
 * is dropped, never kept as a message or `cause`. zod's issues stay here too: what leaves is the name and
 * issue code only, since a custom message, an `unrecognized_keys` list or a `reportInput` field could
 * quote the value. A schema runs synchronously, so an asynchronous refinement counts as an exception.
 *
 * When the whole object threw, each name's own schema runs once more on its value, to say which names
 * are at fault; an exception no single name explains belongs to the object (`name` undefined).
 */
export function runSchema(schema: ObjectSchema, values: Record<string, unknown>): SchemaResult {
  const whole = attempt(schema, values)
  if (whole.kind === 'parsed') return { success: true, data: whole.data as Record<string, unknown> }
  const names = Object.keys(schema.shape)
  if (whole.kind === 'issues') return { success: false, problems: problemsOf(whole.issues, names) }
  const problems: SchemaProblem[] = []
  for (const name of names) {
    const field = fieldSchema(schema, name)
    if (field === undefined) continue
    const outcome = attempt(field, values[name])
    if (outcome.kind === 'threw') problems.push({ name, problem: schemaException })
    else if (outcome.kind === 'issues') problems.push({ name, problem: problemOf(outcome.issues[0]) })
  }
  if (!problems.some((p) => p.problem === schemaException)) {
    problems.push({ name: undefined, problem: schemaException })
  }
  return { success: false, problems }
}

function attempt(schema: unknown, value: unknown): Outcome {
  try {
    const result = (schema as z.ZodType).safeParse(value)
    return result.success
      ? { kind: 'parsed', data: result.data }
      : { kind: 'issues', issues: result.error.issues }
  } catch {
    // Dropped on purpose: the exception may quote the value (see runSchema).
    return { kind: 'threw' }
  }
}

function fieldSchema(schema: ObjectSchema, name: string): z.ZodType | undefined {
  const field = Object.hasOwn(schema.shape, name) ? schema.shape[name] : undefined
  return typeof field === 'object' &&
    field !== null &&
    typeof (field as { safeParse?: unknown }).safeParse === 'function'
    ? (field as z.ZodType)
    : undefined
}

/**
 * One problem per name (its first issue). The name is the first step of the issue's path when that is a
 * secret name; a path a refinement wrote could hold anything, so any other path belongs to the object.
 */
function problemsOf(issues: readonly z.core.$ZodIssue[], names: readonly string[]): SchemaProblem[] {
  const problems: SchemaProblem[] = []
  for (const issue of issues) {
    const first = issue.path[0]
    const name = typeof first === 'string' && names.includes(first) ? first : undefined
    if (problems.some((p) => p.name === name)) continue
    problems.push({ name, problem: problemOf(issue) })
  }
  return problems
}

// Only fields zod fills from the schema, and only of the expected shape: a refinement can add an issue
// of any code with any fields, so nothing else of an issue is echoed.
function problemOf(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'custom'
  const { code, minimum, maximum, expected } = issue as unknown as Record<string, unknown>
  if (typeof code !== 'string' || !/^[a-z_]{1,32}$/.test(code)) return 'custom'
  const bound = code === 'too_small' ? minimum : code === 'too_big' ? maximum : undefined
  if (typeof bound === 'number' || typeof bound === 'bigint') {
    return `${code}: ${code === 'too_small' ? 'minimum' : 'maximum'} ${String(bound)}`
  }
  if (code === 'invalid_type' && typeof expected === 'string' && /^[a-z]{1,16}$/.test(expected)) {
    return `${code}: expected ${expected}`
  }
  return code
}
