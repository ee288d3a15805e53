import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import type { Auth } from '@zerotrust/core'

// Longer keys are hashed: a subject or a key function's answer can be long, and each key is held in
// memory (or Redis) for a whole window.
const maxKeyLength = 128

/** `key` as stored: itself when short, else its SHA-256 (base64url), so every key costs the same. */
export function boundedKey(key: string): string {
  return key.length <= maxKeyLength ? key : `#${createHash('sha256').update(key).digest('base64url')}`
}

/**
 * The identity an `Auth` speaks for, as a key no other identity shares: the subject within its issuer,
 * else the OAuth client within its issuer, else the workload's SPIFFE ID; `undefined` when none is known.
 * Lengths prefix the parts, so no choice of `sub` can collide with another issuer's.
 */
export function identityKey(auth: Auth): string | undefined {
  const issuer = auth.issuer ?? ''
  if (auth.subject !== undefined) return `s:${issuer.length}:${issuer}${auth.subject}`
  if (auth.clientId !== undefined) return `c:${issuer.length}:${issuer}${auth.clientId}`
  if (auth.workload !== undefined) return `w:${auth.workload.id}`
  return undefined
}

/**
 * The key of a peer address (the socket's, never a header's): an IPv4 address as it is, an IPv6 address
 * by its /64 prefix (one host usually holds a whole /64, so a per-address key would let it rotate
 * through 2^64 keys); `undefined` when the address is unknown or not an IP address.
 */
export function peerKey(address: string | undefined): string | undefined {
  if (address === undefined) return undefined
  const mapped = address.startsWith('::ffff:') ? address.slice(7) : address
  if (isIPv4(mapped)) return `ip:${mapped}`
  if (!isIPv6(address)) return undefined
  return `ip6:${ipv6Prefix64(address)}`
}

function ipv6Prefix64(address: string): string {
  const zone = address.indexOf('%')
  const bare = zone === -1 ? address : address.slice(0, zone)
  const [head = '', tail] = bare.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  // An embedded IPv4 tail (::1.2.3.4) sits in the last 32 bits, outside the /64.
  const groups =
    tail === undefined
      ? left
      : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')
}
