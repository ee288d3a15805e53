import { isIPv4 } from 'node:net'

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * An https URL, or plain http on a loopback host (local development and tests); `undefined` otherwise.
 * Keys, introspection answers or secrets fetched over plain http from the network could be read or
 * swapped by anyone on the path. Loopback means `localhost`, `[::1]` and IPv4 addresses in 127.0.0.0/8,
 * never a name that merely starts with `127.`.
 *
 * @example
 * checkEndpoint('http://127.0.0.1:8080/jwks') // URL
 * checkEndpoint('http://idp.example.com/jwks') // undefined
 */
export function checkEndpoint(value: string): URL | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.username || url.password || url.hash) return undefined
  if (url.protocol === 'https:') return url
  if (
    url.protocol === 'http:' &&
    (loopbackHosts.has(url.hostname) || (isIPv4(url.hostname) && url.hostname.startsWith('127.')))
  )
    return url
  return undefined
}
