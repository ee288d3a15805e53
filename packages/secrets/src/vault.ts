import { type VaultOptions, vaultSettings } from './lib/options.js'
import type { SecretSource, SourceContext, SourceValues } from './lib/source.js'
import { backgroundInterval, backgroundTimeout, renewDelay } from './lib/timers.js'
import { VaultClient } from './lib/vault-client.js'

/**
 * A Vault KV v2 secret as a source: `GET /v1/<mount>/data/<path>`, whose keys are the secret names.
 * Authenticates with a token (renewed at about two thirds of its TTL when renewable) or by Kubernetes
 * login (repeated when the token expires or is refused), re-reads on a schedule, and raises errors that
 * carry an HTTP status or error code, never a header, token or body.
 *
 * @example
 * vault({ address: 'https://vault:8200', kubernetes: { role: 'orders' }, path: 'orders/api' })
 * @see https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
 */
export function vault(options: VaultOptions): SecretSource {
  const { client: clientSettings, mount, path, version, refreshInterval } = vaultSettings(options)
  const client = new VaultClient(clientSettings)
  let context: SourceContext | undefined
  let interval: NodeJS.Timeout | undefined
  let leaseTimer: NodeJS.Timeout | undefined
  let closed = false

  return {
    label: `vault(${mount}/${path})`,
    async read(names: readonly string[]): Promise<SourceValues> {
      const { data, lease } = await client.readKv(mount, path, version)
      if (leaseTimer !== undefined) clearTimeout(leaseTimer)
      leaseTimer = undefined
      if (lease > 0 && !closed && context !== undefined) {
        // A leased value is re-read at about two thirds of its lease, before it lapses.
        const changed = context.changed
        leaseTimer = backgroundTimeout(() => changed(), renewDelay(lease * 1000))
      }
      const found = new Map<string, unknown>()
      if (data === undefined) return found
      for (const name of names) if (Object.hasOwn(data, name)) found.set(name, data[name])
      return found
    },
    start(started: SourceContext): void {
      if (closed) return
      context = started
      client.report = started.report
      if (refreshInterval > 0) interval = backgroundInterval(() => started.changed(), refreshInterval)
    },
    close(): void {
      closed = true
      client.close()
      if (interval !== undefined) clearInterval(interval)
      if (leaseTimer !== undefined) clearTimeout(leaseTimer)
      interval = undefined
      leaseTimer = undefined
    },
  }
}
