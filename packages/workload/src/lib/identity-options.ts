import { isIP } from 'node:net'
import type { Workload } from '@zerotrust/core'
import { type OptionsSchema, option, parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'
import { readSpiffeId, spiffeIdRuleText, trustDomainRule } from '../spiffe-id.js'
import { defaultMaxXfccLength } from '../xfcc.js'
import { hopCheck, normalizeAddress, type TrustedHops } from './hops.js'

/** Where `workloadIdentity` reads the calling workload from. */
export type WorkloadSource = 'mtls' | 'xfcc' | 'l5d'

/** Options of `workloadIdentity`. */
export interface WorkloadIdentityOptions {
  /**
   * The trust domains whose workloads may call, such as `['prod.example.com']`. A workload of any other
   * trust domain is refused (401 `trust_domain_not_allowed`).
   */
  readonly trustDomains: readonly string[]
  /**
   * `mtls` (the default): the verified client certificate on this connection. `xfcc`: Envoy's (Istio's)
   * `x-forwarded-client-cert`, from a trusted hop only. `l5d`: Linkerd's `l5d-client-id`, from a trusted
   * hop only.
   */
  readonly source?: WorkloadSource
  /** The SPIFFE IDs that may call; any other is refused (403 `workload_not_allowed`). Not with `match`. */
  readonly ids?: readonly string[]
  /**
   * Whether a workload (proven and of an allowed trust domain) may call; `false` refuses it (403
   * `workload_not_allowed`). Called on every request. Not with `ids`.
   */
  readonly match?: (workload: Workload) => boolean
  /**
   * For `xfcc` and `l5d`, required: the immediate peers allowed to set the header, the local sidecar,
   * as addresses (`['127.0.0.6']` for Istio's inbound proxy, `['127.0.0.1', '::1']` for Linkerd's) or a
   * function of the peer's address. From any other peer the header is ignored and the request refused.
   */
  readonly trustedHops?: TrustedHops
  /**
   * For `xfcc`, required: this service's own SPIFFE ID, which the last element's `By` must name (the
   * sidecar that verified the caller is this service's own).
   */
  readonly self?: string
  /** For `xfcc`: the longest header read, in characters; 16 KiB by default, 256 to 1 MiB. */
  readonly maxHeaderLength?: number
  /** For `mtls`: how many client certificates are kept read; 1000 by default. */
  readonly cacheSize?: number
}

const spiffeId = (what: string) =>
  z.string({ error: `must be ${what}` }).superRefine((value, ctx) => {
    const read = readSpiffeId(value)
    if (typeof read === 'string')
      ctx.addIssue({ code: 'custom', message: `must be ${what}: ${spiffeIdRuleText(read)}` })
  })

const hops = z.union(
  [
    z
      .array(
        z
          .string({ error: 'must list IP addresses' })
          .refine((value) => isIP(normalizeAddress(value)) !== 0, { error: 'must list IP addresses' }),
        { error: 'must be a list of IP addresses or a function' },
      )
      .min(1, { error: 'must not be empty' }),
    option.callable<(remoteAddress: string | undefined) => boolean>(),
  ],
  { error: 'must be a list of IP addresses or a function' },
)

const schema = z
  .strictObject(
    {
      trustDomains: z
        .array(
          z.string({ error: 'must list trust domain names' }).superRefine((value, ctx) => {
            const rule = trustDomainRule(value)
            if (rule !== undefined) {
              ctx.addIssue({
                code: 'custom',
                message: `must list trust domain names: ${spiffeIdRuleText(rule)}`,
              })
            }
          }),
          { error: 'must be a list of trust domain names' },
        )
        .min(1, { error: 'must not be empty' }),
      source: z.enum(['mtls', 'xfcc', 'l5d'], { error: 'must be "mtls", "xfcc" or "l5d"' }).optional(),
      ids: z.array(spiffeId('a list of SPIFFE IDs'), { error: 'must be a list of SPIFFE IDs' }).optional(),
      match: option.callable<(workload: Workload) => boolean>().optional(),
      trustedHops: hops.optional(),
      self: spiffeId('a SPIFFE ID').optional(),
      maxHeaderLength: option.integer({ min: 256, max: 1024 * 1024 }).optional(),
      cacheSize: option.positiveInteger(1_000_000).optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine((o, ctx) => {
    const source = o.source ?? 'mtls'
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message })
    if (o.ids !== undefined && o.match !== undefined) issue('match', 'cannot be set with "ids": choose one')
    for (const id of o.ids ?? []) {
      const read = readSpiffeId(id)
      if (typeof read !== 'string' && !o.trustDomains.includes(read.trustDomain)) {
        issue('ids', 'must list SPIFFE IDs of the "trustDomains" only')
      }
    }
    if (source === 'mtls') {
      if (o.trustedHops !== undefined) issue('trustedHops', 'is for the "xfcc" and "l5d" sources only')
      if (o.self !== undefined) issue('self', 'is for the "xfcc" source only')
      if (o.maxHeaderLength !== undefined) issue('maxHeaderLength', 'is for the "xfcc" source only')
      return
    }
    if (o.cacheSize !== undefined) issue('cacheSize', 'is for the "mtls" source only')
    if (o.trustedHops === undefined) {
      issue('trustedHops', `is required with the "${source}" source: the sidecar's address`)
    }
    if (source === 'xfcc' && o.self === undefined) {
      issue('self', 'is required with the "xfcc" source: this service\'s own SPIFFE ID')
    }
    if (source === 'l5d') {
      if (o.self !== undefined) issue('self', 'is for the "xfcc" source only')
      if (o.maxHeaderLength !== undefined) issue('maxHeaderLength', 'is for the "xfcc" source only')
    }
  }) satisfies OptionsSchema<WorkloadIdentityOptions>

/** The options of `workloadIdentity` after checking, with every default filled in. */
export interface WorkloadIdentitySettings {
  readonly source: WorkloadSource
  readonly trustDomains: ReadonlySet<string>
  readonly ids: ReadonlySet<string> | undefined
  readonly match: ((workload: Workload) => boolean) | undefined
  readonly trustedHop: (remoteAddress: string | undefined) => boolean
  readonly self: string | undefined
  readonly maxHeaderLength: number
  readonly cacheSize: number
}

/**
 * Checks `workloadIdentity` options once.
 *
 * @throws TypeError naming the option
 */
export function workloadIdentitySettings(input: unknown): WorkloadIdentitySettings {
  const o = parseOptions('workloadIdentity', schema, input)
  return Object.freeze({
    source: o.source ?? 'mtls',
    trustDomains: new Set(o.trustDomains),
    ids: o.ids === undefined ? undefined : new Set(o.ids),
    match: o.match,
    trustedHop: o.trustedHops === undefined ? () => false : hopCheck(o.trustedHops),
    self: o.self,
    maxHeaderLength: o.maxHeaderLength ?? defaultMaxXfccLength,
    cacheSize: o.cacheSize ?? 1000,
  })
}
