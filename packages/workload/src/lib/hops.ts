import { isIP } from 'node:net'

/** Which immediate peers may speak for a caller: addresses, or a rule over the peer's address. */
export type TrustedHops = readonly string[] | ((remoteAddress: string | undefined) => boolean)

/**
 * The address as this package compares it: an IPv4 address a dual-stack socket reports in its IPv6 form
 * (`::ffff:127.0.0.1`) as the IPv4 address, an IPv6 address in lower case.
 *
 * @example normalizeAddress('::FFFF:127.0.0.1') // '127.0.0.1'
 */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase()
  if (lower.startsWith('::ffff:')) {
    const v4 = lower.slice(7)
    if (isIP(v4) === 4) return v4
  }
  return lower
}

/**
 * The check of one request's immediate peer against `hops`. A listed address must be exactly the
 * peer's (after {@link normalizeAddress}); an unknown peer address is never trusted by a list. A function
 * is called with the address as the socket reported it.
 */
export function hopCheck(hops: TrustedHops): (remoteAddress: string | undefined) => boolean {
  if (typeof hops === 'function') return (remoteAddress) => hops(remoteAddress) === true
  const trusted = new Set(hops.map(normalizeAddress))
  return (remoteAddress) => remoteAddress !== undefined && trusted.has(normalizeAddress(remoteAddress))
}
