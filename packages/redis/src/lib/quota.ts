import { createHash } from 'node:crypto'
import { isOwnerToken } from './record.js'

// A claim that names a caller lives under the caller's hash tag, beside the caller's entries and sizes,
// so that the quota scripts touch keys of one Redis Cluster slot. The owner token the layer holds
// carries the tag ("<uuid>.<tag>"), so complete, release and extend find the record again.

// 132 bits of SHA-256: two callers sharing a tag would share a share of the store, nothing else.
const tagLength = 22
const taggedOwner = /^([\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12})\.([\w-]{22})$/

/** The keys of one caller's claim of `key`. */
export interface CallerKeys {
  /** `<prefix>{<tag>}`: what every key of the caller starts with. */
  readonly base: string
  readonly record: string
  readonly entries: string
  readonly sizes: string
}

/**
 * The hash tag of a caller: base64url of its SHA-256, so any caller name makes a short key without
 * braces, and no caller name is readable in Redis. The caller is checked first (`checkCaller`).
 */
export function callerTag(caller: string): string {
  return createHash('sha256').update(caller).digest('base64url').slice(0, tagLength)
}

/** The keys of `key` claimed by the caller of `tag`. */
export function callerKeys(prefix: string, tag: string, key: string): CallerKeys {
  // Records start "{tag}:", the caller's own keys "{tag}e" and "{tag}s": never the same key.
  const base = `${prefix}{${tag}}`
  return { base, record: `${base}:${key}`, entries: `${base}e`, sizes: `${base}s` }
}

/** The owner token of a claim: the pending record's UUID, with the caller's tag when there is one. */
export function ownerToken(uuid: string, tag: string | undefined): string {
  return tag === undefined ? uuid : `${uuid}.${tag}`
}

/**
 * Reads an owner token this store issued: its UUID and, for a claim that named a caller, the caller's
 * tag. Anything else holds no key (`undefined`).
 */
export function parseOwner(owner: unknown): { uuid: string; tag: string | undefined } | undefined {
  if (isOwnerToken(owner)) return { uuid: owner, tag: undefined }
  if (typeof owner !== 'string' || owner.length !== 36 + 1 + tagLength) return undefined
  const match = taggedOwner.exec(owner)
  if (match === null) return undefined
  return { uuid: match[1] as string, tag: match[2] as string }
}

/**
 * The `{ ms }` a quota script answers when the caller is at its share, or `undefined` for any other
 * reply. Integers come as numbers, or as strings with `stringNumbers`.
 */
export function refusedFor(reply: unknown): number | undefined {
  if (!Array.isArray(reply) || reply.length !== 1) return undefined
  const ms = Number(reply[0])
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined
}
