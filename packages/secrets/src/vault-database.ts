import { isZeroTrustError } from '@zerotrust/core'
import { redactedCredentials } from './lib/credentials.js'
import { sourceError } from './lib/errors.js'
import { type VaultDatabaseOptions, vaultDatabaseSettings } from './lib/options.js'
import type { SecretSource, SourceContext, SourceValues } from './lib/source.js'
import { backgroundTimeout, renewDelay } from './lib/timers.js'
import { type IssuedLease, VaultClient } from './lib/vault-client.js'

/** One lease of credentials. Its ID is sent to Vault and nowhere else: no error, report or label. */
interface Lease {
  readonly id: string
  /** When it ends (`Date.now()` milliseconds), measured from when the request that set it was sent. */
  expiresAt: number
  renewable: boolean
  /** Seconds asked for at each renewal. */
  readonly increment: number
  timer: NodeJS.Timeout | undefined
}

// While Vault is unreachable, a renewal is tried again this often (within the lease), and the issue of
// new credentials from the first delay, doubling, up to the last.
const renewRetry = { min: 250, max: 30_000 }
const issueRetry = { first: 500, max: 30_000 }

/**
 * Dynamic database credentials from Vault's database secrets engine, as a source of one secret
 * ({@link DatabaseCredentials}, named by `name`): `GET /v1/<mount>/creds/<role>` issues a login that
 * lives as long as its lease. The lease is renewed (`PUT /v1/sys/leases/renew`) at about two thirds of
 * its TTL; when Vault grants less than asked (the role's `max_ttl` is near) or refuses, new credentials
 * are issued while the old ones still work, `onRotate` listeners run, and the old lease is revoked
 * (`PUT /v1/sys/leases/revoke`) after `revokeGrace`. `close()` revokes every lease it holds.
 *
 * While Vault is unreachable the credentials keep serving until their lease ends; then `current()`
 * throws `lease_expired` (503) until new ones are issued. Logs in as `vault()` does (a token, or the
 * pod's Kubernetes service account). `forceRefresh()` issues new credentials.
 *
 * @example
 * const secrets = await loadSecrets({
 *   schema: z.object({ DB: databaseCredentials }),
 *   sources: [
 *     vaultDatabase({ address: 'https://vault:8200', kubernetes: { role: 'orders' }, role: 'orders-app', name: 'DB' }),
 *   ],
 * })
 * @see https://developer.hashicorp.com/vault/api-docs/secret/databases#generate-credentials
 * @see https://developer.hashicorp.com/vault/docs/concepts/lease
 */
export function vaultDatabase(options: VaultDatabaseOptions): SecretSource {
  const settings = vaultDatabaseSettings(options)
  const client = new VaultClient(settings.client)
  const path = `${settings.mount}/creds/${settings.role}`
  const leases = new WeakMap<SourceValues, Lease>()
  const retiring = new Set<Lease>()
  let current: Lease | undefined
  let context: SourceContext | undefined
  let issuing: Promise<unknown> | undefined
  let retry: NodeJS.Timeout | undefined
  let issueFailures = 0
  let closed = false

  const report = (error: Error) => context?.report(error)

  /** Asks the set to read this source again, which issues new credentials. */
  const rotate = () => {
    if (closed || context === undefined) return
    context.changed()
  }

  const retryIssue = () => {
    if (closed || context === undefined) return
    if (retry !== undefined) clearTimeout(retry)
    const delay = Math.min(issueRetry.max, issueRetry.first * 2 ** Math.min(issueFailures, 16))
    issueFailures += 1
    retry = backgroundTimeout(() => {
      retry = undefined
      rotate()
    }, jittered(delay))
  }

  const schedule = (lease: Lease) => {
    const remaining = lease.expiresAt - Date.now()
    lease.timer = backgroundTimeout(
      () => {
        lease.timer = undefined
        // Not renewable: new credentials at the same point a renewal would be.
        if (!lease.renewable) return rotate()
        renew(lease).then(undefined, report)
      },
      renewDelay(Math.max(0, remaining)),
    )
  }

  async function renew(lease: Lease): Promise<void> {
    if (closed || lease !== current) return
    const sentAt = Date.now()
    try {
      const granted = await client.renewLease(lease.id, lease.increment, `renewal of a lease of "${path}"`)
      if (closed || lease !== current) return
      lease.expiresAt = sentAt + granted.duration * 1000
      lease.renewable = granted.renewable
      // Granted less than asked: the role's max_ttl is near and the lease cannot be extended past it.
      // New credentials now, while these still work for what is left.
      if (granted.duration < lease.increment || !granted.renewable) return rotate()
      schedule(lease)
    } catch (error) {
      if (closed || lease !== current) return
      report(error as Error)
      const remaining = lease.expiresAt - Date.now()
      if (isZeroTrustError(error) && error.reason === 'vault_unavailable' && remaining > 0) {
        // Vault is unreachable: the credentials hold until the lease ends; try again before then.
        const delay = Math.min(renewRetry.max, Math.max(renewRetry.min, remaining / 4))
        lease.timer = backgroundTimeout(() => {
          lease.timer = undefined
          renew(lease).then(undefined, report)
        }, jittered(delay))
        return
      }
      // Refused (the lease is gone or cannot be renewed) or over: only new credentials help.
      rotate()
    }
  }

  const retire = (lease: Lease) => {
    if (lease.timer !== undefined) clearTimeout(lease.timer)
    retiring.add(lease)
    // Pools drain their connections of the old credentials before the lease is revoked.
    lease.timer = backgroundTimeout(() => {
      lease.timer = undefined
      revoke(lease).then(undefined, report)
    }, settings.revokeGrace)
  }

  async function revoke(lease: Lease): Promise<void> {
    retiring.delete(lease)
    if (lease.timer !== undefined) clearTimeout(lease.timer)
    lease.timer = undefined
    // A lease past its end is revoked by Vault itself.
    if (lease.expiresAt <= Date.now()) return
    try {
      await client.revokeLease(lease.id, `revocation of a lease of "${path}"`)
    } catch (error) {
      report(error as Error)
    }
  }

  async function issue(): Promise<SourceValues> {
    const sentAt = Date.now()
    let issued: IssuedLease
    try {
      issued = await client.readCredentials(settings.mount, settings.role, `read of credentials "${path}"`)
    } catch (error) {
      retryIssue()
      throw error
    }
    const lease: Lease = {
      id: issued.leaseId,
      expiresAt: sentAt + issued.duration * 1000,
      renewable: issued.renewable,
      increment: settings.incrementSeconds ?? issued.duration,
      timer: undefined,
    }
    const credentials = redactedCredentials(issued.data.username, issued.data.password)
    if (credentials === undefined || closed) {
      // Not usable, or not wanted any more: give the lease back at once.
      await revoke(lease)
      if (closed) throw sourceError(`vaultDatabase(${path}) is closed`, 'source_failed')
      retryIssue()
      throw sourceError(
        `vault read of credentials "${path}" returned an unexpected document`,
        'vault_response',
      )
    }
    issueFailures = 0
    if (retry !== undefined) clearTimeout(retry)
    retry = undefined
    const previous = current
    current = lease
    if (previous !== undefined) retire(previous)
    schedule(lease)
    const values = new Map<string, unknown>([[settings.name, credentials]])
    leases.set(values, lease)
    return values
  }

  return {
    label: `vaultDatabase(${path})`,
    read(names: readonly string[]): Promise<SourceValues> {
      // A source for another schema's names: nothing to issue.
      if (!names.includes(settings.name)) return Promise.resolve(new Map())
      const run = issue()
      issuing = run
      return run.finally(() => {
        if (issuing === run) issuing = undefined
      })
    },
    validUntil(values: SourceValues): number | undefined {
      return leases.get(values)?.expiresAt
    },
    start(started: SourceContext): void {
      if (closed) return
      context = started
      client.report = started.report
    },
    async close(): Promise<void> {
      if (closed) return
      closed = true
      if (retry !== undefined) clearTimeout(retry)
      retry = undefined
      // A lease being issued is revoked by the read itself, which sees `closed`.
      await issuing?.then(
        () => {},
        () => {},
      )
      const held = [...retiring, ...(current === undefined ? [] : [current])]
      current = undefined
      await Promise.all(held.map((lease) => revoke(lease)))
      client.close()
    },
  }
}

/** `ms` within ±20%, so replicas that lost Vault together do not come back in step. */
function jittered(ms: number): number {
  return Math.max(1, Math.round(ms * (0.8 + 0.4 * Math.random())))
}
