/**
 * The `reason`s of `@zerotrust/workload`'s errors. docs/errors.md lists exactly these.
 *
 * @example
 * if (err.reason === 'untrusted_hop') audit.warn('a sidecar header came from a peer that is not the sidecar')
 */
export const workloadReasons = Object.freeze([] as const)

/** One of {@link workloadReasons}. */
export type WorkloadReason = (typeof workloadReasons)[number]
