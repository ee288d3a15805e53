// Trace context on outbound calls (issue 18): a propagator the application gives (`traceContext()` of
// @zerotrust/otel) adds headers to each attempt. What it adds is checked as the client's own headers are:
// it never replaces the credentials or framing the client sets, a header the call already carries stays
// the caller's, and a propagator that throws costs the attempt its trace headers, never the call.

/** Sets one header of an attempt; see {@link ContextPropagator}. */
export type HeaderSetter = (name: string, value: string) => void

/**
 * What adds trace context to each attempt of a call: `traceContext()` of `@zerotrust/otel`, or any object
 * of this shape. `inject` runs once per attempt, just before it is sent, in the async context of the
 * `fetch` call, and calls `set` once per header (synchronously: a later call is ignored).
 *
 * @example
 * const propagate: ContextPropagator = {
 *   inject(set) {
 *     propagation.inject(context.active(), set, { set: (carrier, name, value) => carrier(name, value) })
 *   },
 * }
 * @see https://www.w3.org/TR/trace-context/#traceparent-header
 */
export interface ContextPropagator {
  inject(set: HeaderSetter): void
}

/**
 * Headers a propagator may never set: the client's credentials (`Authorization`, `DPoP`), the write's
 * `Idempotency-Key`, and what frames the request (`Host`, `Content-Length`, `Transfer-Encoding`,
 * `Connection`).
 */
export const clientOwnedHeaders: ReadonlySet<string> = new Set([
  'authorization',
  'dpop',
  'idempotency-key',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
])

/** Headers one attempt takes from a propagator, at most. */
export const maxPropagatedHeaders = 16
/** Longest name and value taken from a propagator (W3C Baggage allows 8192 bytes in all). */
const maxNameLength = 128
const maxValueLength = 8192
const headerName = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/

/** Why a propagator's header was not sent; what an attempt's event lists in `diagnostics`. */
export const propagationDiagnostics = Object.freeze({
  /** `inject` threw: the attempt was sent without any header of the propagator. */
  failed: 'propagator_failed',
  /** A header was not a token name and a value without control characters, or past the bounds. */
  invalid: 'propagator_header_invalid',
} as const)

/**
 * Runs `propagator` for one attempt and adds what it sets to `headers` (the attempt's own copy), lower
 * case. Returns the diagnostics of what was not sent, or `undefined` when everything was.
 */
export function propagateInto(
  propagator: ContextPropagator,
  headers: Record<string, string>,
): string[] | undefined {
  const pairs: unknown[] = []
  let open = true
  let overflow = false
  const set: HeaderSetter = (name, value) => {
    if (!open) return
    if (pairs.length >= maxPropagatedHeaders * 2) overflow = true
    else pairs.push(name, value)
  }
  try {
    propagator.inject(set)
  } catch {
    return [propagationDiagnostics.failed]
  } finally {
    open = false
  }
  let diagnostics: string[] | undefined = overflow ? [propagationDiagnostics.invalid] : undefined
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]
    const value = pairs[i + 1]
    const lower = typeof name === 'string' && name.length <= maxNameLength ? name.toLowerCase() : ''
    let problem: string | undefined
    if (clientOwnedHeaders.has(lower)) problem = `propagator_header_refused:${lower}`
    else if (
      !headerName.test(lower) ||
      lower === '__proto__' ||
      typeof value !== 'string' ||
      value.length > maxValueLength ||
      !headerValue.test(value)
    ) {
      problem = propagationDiagnostics.invalid
    }
    if (problem !== undefined) {
      diagnostics ??= []
      if (!diagnostics.includes(problem)) diagnostics.push(problem)
      continue
    }
    // A header the call sets itself (the client's `headers`, the call's own) is the caller's choice.
    if (!Object.hasOwn(headers, lower)) headers[lower] = value as string
  }
  return diagnostics
}
