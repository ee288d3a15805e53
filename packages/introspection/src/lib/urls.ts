import { isIPv4 } from 'node:net'

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * An https URL, or plain http on a loopback host (local development and tests); `undefined` otherwise.
 * Keys fetched over plain http from the network could be swapped by anyone on the path.
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
