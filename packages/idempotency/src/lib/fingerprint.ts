import { createHash, type Hash } from 'node:crypto'
import { type RequestLike, ZeroTrustError } from '@zerotrust/core'
import type { RequestBody } from '@zerotrust/core/layer'

// Deeper than any sane payload; bounds the recursion of canonical JSON.
const maxDepth = 256

// Linear (anchored, no nested quantifier over one character class), and only ever run on a bounded value.
const jsonType = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i
// Longer than any media type a client sends: such a value is not tested, its body is hashed as bytes.
const maxMediaType = 1024

/**
 * The fingerprint of a request: SHA-256 over its method, the resource it targets (`target`: its path
 * and query by default, or its route, parameters and query) and its body, as base64url. JSON bodies (parsed, or bytes
 * of a JSON media type) are hashed as canonical JSON, keys sorted at every level, so two encodings of
 * one payload agree; other bodies are hashed as bytes. With `fields`, only those top-level members of a
 * JSON object body count.
 *
 * @throws ZeroTrustError when the headers announce a body the adapter could not see:
 * `unsupported_media_type` (415) when a body parser left it unread (the client's media type),
 * `internal_error` (500) when no body parser ran (a misconfigured route); `invalid_request` for a body
 * nested deeper than 256 levels
 */
export function fingerprint(
  req: RequestLike,
  body: RequestBody | undefined,
  fields: readonly string[] | undefined,
  target: string = req.target,
): string {
  const hash = createHash('sha256').update(`${req.method} ${target}\n`)
  if (body === undefined || body.kind === 'unparsed') {
    if (announcesBody(req)) throw unreadBody(body)
    hash.update('none\n')
  } else if (body.kind === 'bytes' && body.bytes.byteLength === 0) {
    hash.update('none\n')
  } else if (body.kind === 'bytes') {
    const json = isJsonType(req.headerValues('content-type')[0]) ? parseJson(body.bytes) : noJson
    if (json === noJson) hash.update('bytes\n').update(body.bytes)
    else hashJson(hash, json, fields)
  } else if (typeof body.value === 'string') {
    hash.update('bytes\n').update(body.value)
  } else {
    hashJson(hash, body.value, fields)
  }
  return hash.digest('base64url')
}

/**
 * Why a body the request announces was not seen. A parser that ran and skipped it did so for the media
 * type the client chose: 415, never a 500. No parser at all is the route's fault: every such request
 * would fail, so it is a 500 that names the fix.
 */
function unreadBody(body: { readonly kind: 'unparsed' } | undefined): ZeroTrustError {
  if (body === undefined) {
    return new ZeroTrustError(
      'internal_error',
      'the request body was not read: mount idempotent() after a body parser',
      { reason: 'body_not_read' },
    )
  }
  return new ZeroTrustError(
    'unsupported_media_type',
    'the request body is of a media type this route does not read',
    { reason: 'body_not_parsed' },
  )
}

function isJsonType(value: string | undefined): boolean {
  return value !== undefined && value.length <= maxMediaType && jsonType.test(value)
}

function announcesBody(req: RequestLike): boolean {
  const length = req.headerValues('content-length')[0]
  if (length !== undefined && length.trim() !== '0') return true
  return req.headerValues('transfer-encoding').length > 0
}

const noJson = Symbol('not json')

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return noJson
  }
}

function hashJson(hash: Hash, value: unknown, fields: readonly string[] | undefined): void {
  let selected = value
  if (fields !== undefined && isPlainObject(value)) {
    const picked: Record<string, unknown> = {}
    for (const field of fields) if (Object.hasOwn(value, field)) picked[field] = value[field]
    selected = picked
  }
  hash.update('json\n').update(canonicalJson(selected, 0))
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  )
}

/**
 * The JSON Canonicalization Scheme of RFC 8785 for every value JSON can carry: object keys sorted by
 * their UTF-16 code units at every level (§3.2.3), numbers in ECMAScript form and strings escaped as
 * `JSON.stringify` writes them (§3.2.2), no whitespace. `undefined` members are left out and
 * `toJSON()` is honoured, as `JSON.stringify` does. Beyond JSON, for what a body parser may leave:
 * `NaN` and infinities are written as `null` (RFC 8785 refuses them; no JSON text holds them), a
 * bigint as its digits, and bytes as a base64 string.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8785#section-3.2
 */
export function canonicalJson(value: unknown, depth: number): string {
  if (depth > maxDepth) {
    throw new ZeroTrustError('invalid_request', 'the request body is nested too deeply', {
      reason: 'body_too_deep',
    })
  }
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString()
    return JSON.stringify(value) ?? 'null'
  }
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'))
  const json = (value as { toJSON?: unknown }).toJSON
  if (typeof json === 'function') return canonicalJson(json.call(value), depth + 1)
  if (Array.isArray(value)) {
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item, depth + 1))).join(',')}]`
  }
  const record = value as Record<string, unknown>
  const members: string[] = []
  for (const key of Object.keys(record).sort()) {
    const member = record[key]
    if (member === undefined || typeof member === 'function') continue
    members.push(`${JSON.stringify(key)}:${canonicalJson(member, depth + 1)}`)
  }
  return `{${members.join(',')}}`
}
