// The SVID a client presents, taken structurally: `svidFiles()` of `@zerotrust/workload` is one such
// source, a SPIFFE Workload API client another, a fixed certificate a third.

/** An X.509-SVID with the trust bundle to verify peers with, all PEM. */
export interface Svid {
  /** The leaf certificate, followed by its intermediates when there are any. */
  readonly certificate: string
  /** The private key of the leaf. */
  readonly key: string
  /** The trust bundle: CA certificates that peers' certificates must chain to. */
  readonly bundle: string
  /** The SPIFFE ID of the leaf, reported as this workload's in events. */
  readonly spiffeId: string
}

/** An SVID that rotates: `current()` is the one to use now, `onRotate` announces the next. */
export interface SvidSource {
  current(): Svid
  /** Calls `listener` with each new SVID; returns a function that stops it. */
  onRotate(listener: (svid: Svid) => void): () => void
}

/** Whether `value` is a rotating source (as opposed to a fixed {@link Svid}). */
export function isSvidSource(value: unknown): value is SvidSource {
  const source = value as Partial<SvidSource> | undefined
  return typeof source?.current === 'function' && typeof source.onRotate === 'function'
}

/** Whether `value` has the shape of an {@link Svid}: four non-empty strings. */
export function isSvid(value: unknown): value is Svid {
  const svid = value as Partial<Record<keyof Svid, unknown>> | undefined
  return (
    typeof svid === 'object' &&
    svid !== null &&
    nonEmpty(svid.certificate) &&
    nonEmpty(svid.key) &&
    nonEmpty(svid.bundle) &&
    nonEmpty(svid.spiffeId)
  )
}

function nonEmpty(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0
}
