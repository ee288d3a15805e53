// RFC 9457: an error answer may carry `application/problem+json`. It comes from the called service: it is
// read only when small, and only members of simple types and bounded lengths are kept.

/** An RFC 9457 problem, as the called service sent it, bounded. */
export interface Problem {
  readonly type?: string
  readonly title?: string
  readonly status?: number
  readonly detail?: string
  readonly instance?: string
  /** Extension members of simple types (zerotrust services send `code` and `reason`). */
  readonly extensions: Readonly<Record<string, string | number | boolean>>
}

/** Largest problem body parsed, in bytes. */
export const maxProblemBytes = 16 * 1024
const maxMemberLength = 1024
const maxExtensions = 16
const standard = new Set(['type', 'title', 'status', 'detail', 'instance'])

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The problem of an error answer's body, when its media type is `application/problem+json` (or plain
 * JSON) and it is at most {@link maxProblemBytes}; `undefined` otherwise.
 *
 * @example
 * parseProblem('application/problem+json', bytes)?.extensions.code // 'idempotency_conflict'
 */
export function parseProblem(contentType: string | undefined, body: Uint8Array): Problem | undefined {
  if (body.byteLength === 0 || body.byteLength > maxProblemBytes) return undefined
  const media = contentType?.split(';', 1)[0]?.trim().toLowerCase()
  if (media !== 'application/problem+json' && media !== 'application/json') return undefined
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(body))
  } catch {
    return undefined
  }
  return problemOf(value)
}

/** The bounded problem of a parsed JSON value, when it is an object. */
export function problemOf(value: unknown): Problem | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const source = value as Record<string, unknown>
  const problem: Record<string, unknown> = {}
  for (const name of ['type', 'title', 'detail', 'instance'] as const) {
    const member = source[name]
    if (typeof member === 'string' && member.length <= maxMemberLength) problem[name] = member
  }
  if (Number.isInteger(source.status)) problem.status = source.status
  const extensions: Record<string, string | number | boolean> = {}
  let count = 0
  for (const [name, member] of Object.entries(source)) {
    if (count === maxExtensions) break
    if (standard.has(name) || name.length > 64 || name === '__proto__') continue
    if (typeof member === 'string' && member.length <= maxMemberLength) extensions[name] = member
    else if (typeof member === 'number' && Number.isFinite(member)) extensions[name] = member
    else if (typeof member === 'boolean') extensions[name] = member
    else continue
    count++
  }
  problem.extensions = Object.freeze(extensions)
  return Object.freeze(problem) as unknown as Problem
}
