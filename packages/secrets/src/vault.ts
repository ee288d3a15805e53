import { checkEndpoint, parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'
import type { SecretSource, SourceContext, SourceValues } from './lib/source.js'
import { backgroundInterval, backgroundTimeout, renewDelay } from './lib/timers.js'
import { type VaultAuth, VaultClient } from './lib/vault-client.js'

/** Options of {@link vault}. */
export interface VaultOptions {
  /** The Vault server, such as `https://vault.example.com:8200` (plain http only on loopback). */
  readonly address: string
  /** A Vault token, or a getter returning the current one. Exactly one of `token` and `kubernetes`. */
  readonly token?: string | (() => string)
  /** Kubernetes auth: log in with the pod's service account token. */
  readonly kubernetes?: {
    /** The Vault role bound to this service account. */
    readonly role: string
    /** The projected service account token; `/var/run/secrets/kubernetes.io/serviceaccount/token` by default. */
    readonly jwtPath?: string
    /** Where the Kubernetes auth method is mounted; `kubernetes` by default. */
    readonly mount?: string
  }
  /** The Vault Enterprise namespace, sent as `X-Vault-Namespace`. */
  readonly namespace?: string
  /** Where the KV v2 engine is mounted; `secret` by default. */
  readonly mount?: string
  /** The secret's path in the engine, such as `orders/api`; its keys are the secret names. */
  readonly path: string
  /** A pinned version; the latest by default. */
  readonly version?: number
  /** Milliseconds between re-reads, to pick up rotated values; 300 000 by default, `0` turns it off. */
  readonly refreshInterval?: number
  /** Milliseconds before a request is abandoned; 5000 by default. */
  readonly timeout?: number
  /** The fetch implementation, for a proxy or a custom CA; the global `fetch` by default. */
  readonly fetch?: typeof globalThis.fetch
}

const nonEmpty = (message = 'must be a non-empty string') =>
  z.string({ error: message }).min(1, { error: message })
const milliseconds = (message: string) =>
  z.number({ error: message }).int({ error: message }).nonnegative({ error: message })

const schema = z
  .strictObject({
    address: nonEmpty().refine((value) => checkEndpoint(value) !== undefined, {
      error: 'must be an https URL (plain http only on loopback)',
    }),
    token: z
      .union([nonEmpty(), z.custom<() => string>((v) => typeof v === 'function')], {
        error: 'must be a non-empty string or a function returning one',
      })
      .optional(),
    kubernetes: z
      .strictObject({ role: nonEmpty(), jwtPath: nonEmpty().optional(), mount: nonEmpty().optional() })
      .optional(),
    namespace: nonEmpty().optional(),
    mount: nonEmpty().optional(),
    path: nonEmpty(),
    version: z
      .number({ error: 'must be a positive integer' })
      .int({ error: 'must be a positive integer' })
      .positive({ error: 'must be a positive integer' })
      .optional(),
    refreshInterval: milliseconds('must be a non-negative integer number of milliseconds').optional(),
    timeout: milliseconds('must be a positive integer number of milliseconds')
      .positive({ error: 'must be a positive integer number of milliseconds' })
      .optional(),
    fetch: z
      .custom<typeof globalThis.fetch>((v) => typeof v === 'function', { error: 'must be a fetch function' })
      .optional(),
  })
  .superRefine((o, ctx) => {
    if ((o.token === undefined) === (o.kubernetes === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'must be set, or "kubernetes", but not both' })
    }
  })

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
  const o = parseOptions('vault', schema, options)
  const token = o.token
  const auth: VaultAuth =
    o.kubernetes !== undefined
      ? {
          kind: 'kubernetes',
          role: o.kubernetes.role,
          jwtPath: o.kubernetes.jwtPath ?? '/var/run/secrets/kubernetes.io/serviceaccount/token',
          mount: o.kubernetes.mount ?? 'kubernetes',
        }
      : { kind: 'token', token: typeof token === 'function' ? (token as () => string) : () => token ?? '' }
  const client = new VaultClient({
    address: new URL(o.address),
    namespace: o.namespace,
    auth,
    timeout: o.timeout ?? 5000,
    fetch: (o.fetch as typeof globalThis.fetch | undefined) ?? ((...args) => globalThis.fetch(...args)),
  })
  const mount = o.mount ?? 'secret'
  const path = o.path
  const refreshInterval = o.refreshInterval ?? 300_000
  let context: SourceContext | undefined
  let interval: NodeJS.Timeout | undefined
  let leaseTimer: NodeJS.Timeout | undefined
  let closed = false

  return {
    label: `vault(${mount}/${path})`,
    async read(names: readonly string[]): Promise<SourceValues> {
      const { data, lease } = await client.readKv(mount, path, o.version)
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
