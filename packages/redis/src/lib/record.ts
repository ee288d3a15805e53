import type { IdempotencyClaim, StoredResponse } from '@zerotrust/core'
import { corruptRecord } from './deadline.js'

// The value under an idempotency key is one of two records, both binary-safe byte strings (lengths are
// decimal byte counts):
//
//   pending:    "zt1p" owner "\n" fingerprint
//   completed:  "zt1c" fingerprintLength "\n" fingerprint metaLength "\n" meta body
//
// where `owner` is a random UUID, `meta` is the JSON `[status, headers, bodyLength]` and `body` the raw
// bytes, which must end the record exactly (a truncated or extended value is refused). The
// pending record starts with a prefix fixed by the owner, so the Lua scripts check ownership with one
// prefix comparison and copy the fingerprint without parsing anything else.

/** The first bytes of a pending record. */
const pendingMagic = 'zt1p'
/** The first bytes of a completed record. */
export const completedMagic = 'zt1c'

const newline = 0x0a
const uuid = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/
// A body of up to 512 MiB (Redis's largest string) has at most 9 digits of length.
const lengthDigits = /^(0|[1-9]\d{0,8})$/

/** Whether `owner` has the shape of the owner tokens this package generates. */
export function isOwnerToken(owner: unknown): owner is string {
  return typeof owner === 'string' && uuid.test(owner)
}

/** The bytes a pending record of `owner` starts with; the scripts compare against it. */
export function pendingPrefix(owner: string): string {
  return `${pendingMagic}${owner}\n`
}

/** The pending record of a fresh claim. */
export function encodePending(owner: string, fingerprint: string): Buffer {
  return Buffer.from(pendingPrefix(owner) + fingerprint, 'utf8')
}

/**
 * The response part of a completed record (`metaLength "\n" meta body`); the complete script prepends
 * the magic and the fingerprint it reads from the pending record.
 *
 * @throws TypeError when `response` is not a valid {@link StoredResponse}
 */
export function encodeResponse(response: StoredResponse): Buffer {
  if (typeof response !== 'object' || response === null) {
    throw new TypeError('"response" must be a stored response object')
  }
  const { status, headers, body } = response
  if (!isStatus(status)) throw new TypeError('"response.status" must be an integer from 100 to 599')
  if (!isHeaders(headers)) {
    throw new TypeError('"response.headers" must map header names to a string or an array of strings')
  }
  if (!(body instanceof Uint8Array)) throw new TypeError('"response.body" must be a Uint8Array')
  const meta = Buffer.from(JSON.stringify([status, headers, body.byteLength]), 'utf8')
  const head = Buffer.from(`${meta.length}\n`, 'latin1')
  return Buffer.concat([head, meta, body])
}

/**
 * Reads the record found under a key (the `GET` part of a claim). Anything this package did not write
 * rejects as a store failure: a foreign value is never replayed as a response.
 *
 * @throws ZeroTrustError `dependency_unavailable` (reason `redis_corrupt_record`) on an unreadable value
 */
export function decodeRecord(value: unknown): Exclude<IdempotencyClaim, { state: 'claimed' }> {
  // `setBuffer` answers a Buffer; anything else means a client that is not what it claims to be.
  if (!Buffer.isBuffer(value)) throw corruptRecord('value')
  const magic = value.toString('latin1', 0, 4)
  if (magic === pendingMagic) {
    const end = value.indexOf(newline, 4)
    if (end === -1 || !isOwnerToken(value.toString('latin1', 4, end))) throw corruptRecord('pending record')
    return { state: 'in_flight', fingerprint: utf8(value, end + 1, value.length, 'pending record') }
  }
  if (magic === completedMagic) {
    const [fingerprintEnd, fingerprintLength] = length(value, 4)
    const metaStart = fingerprintEnd + fingerprintLength
    const fingerprint = utf8(value, fingerprintEnd, metaStart, 'completed record')
    const [metaEnd, metaLength] = length(value, metaStart)
    const bodyStart = metaEnd + metaLength
    const [response, bodyLength] = decodeMeta(utf8(value, metaEnd, bodyStart, 'completed record'))
    if (bodyStart + bodyLength !== value.length) throw corruptRecord('completed record')
    // A copy: the reply buffer may be a view on a larger one that must not be kept alive.
    const body = new Uint8Array(value.subarray(bodyStart))
    return { state: 'completed', fingerprint, response: { ...response, body } }
  }
  throw corruptRecord('value')
}

/** Reads `digits "\n"` at `start`; returns the offset after the newline and the number. */
function length(value: Buffer, start: number): [next: number, length: number] {
  const end = value.indexOf(newline, start)
  const digits = end === -1 ? '' : value.toString('latin1', start, end)
  if (!lengthDigits.test(digits)) throw corruptRecord('completed record')
  const n = Number(digits)
  if (end + 1 + n > value.length) throw corruptRecord('completed record')
  return [end + 1, n]
}

const decoder = new TextDecoder('utf-8', { fatal: true })

function utf8(value: Buffer, start: number, end: number, what: string): string {
  try {
    return decoder.decode(value.subarray(start, end))
  } catch {
    throw corruptRecord(what)
  }
}

function decodeMeta(text: string): [Omit<StoredResponse, 'body'>, bodyLength: number] {
  let meta: unknown
  try {
    meta = JSON.parse(text)
  } catch {
    throw corruptRecord('completed record')
  }
  if (!Array.isArray(meta) || meta.length !== 3) throw corruptRecord('completed record')
  const [status, headers, bodyLength] = meta as [unknown, unknown, unknown]
  if (
    !isStatus(status) ||
    !isHeaders(headers) ||
    !Number.isSafeInteger(bodyLength) ||
    (bodyLength as number) < 0
  ) {
    throw corruptRecord('completed record')
  }
  return [{ status, headers }, bodyLength as number]
}

function isStatus(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 599
}

function isHeaders(value: unknown): value is StoredResponse['headers'] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  for (const entry of Object.values(value)) {
    if (typeof entry === 'string') continue
    if (!Array.isArray(entry) || !entry.every((item) => typeof item === 'string')) return false
  }
  return true
}
