import type { z } from 'zod'

/**
 * Parses a factory's options with a zod schema once, at construction. Any mistake throws a `TypeError`
 * naming the option, in the shape `jwtBearer: "clockTolerance" option must be a non-negative number`.
 *
 * Write schema messages as the rest of a sentence that starts with the option's name ("must be …").
 *
 * @example
 * const options = parseOptions('jwtBearer', schema, input)
 */
export function parseOptions<S extends z.ZodType>(factory: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  if (issue === undefined) throw new TypeError(`${factory}: options are invalid`)
  const path = issue.path.map(String).join('.')
  if (issue.code === 'unrecognized_keys') {
    const key = [path, issue.keys[0]].filter(Boolean).join('.')
    throw new TypeError(`${factory}: "${key}" option is not recognized`)
  }
  if (path === '') throw new TypeError(`${factory}: options ${sentence(issue.message)}`)
  throw new TypeError(`${factory}: "${path}" option ${sentence(issue.message)}`)
}

function sentence(message: string): string {
  if (/^(must|is|are|cannot|needs)\b/.test(message)) return message
  // zod's own messages ("Invalid input: expected string, received number") read as a reason.
  return `is invalid: ${message.charAt(0).toLowerCase()}${message.slice(1)}`
}
