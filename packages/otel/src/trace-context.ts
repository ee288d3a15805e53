import { context, propagation, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api'

/** Sets one header of an outbound request. */
export type HeaderSetter = (name: string, value: string) => void

/**
 * What `zeroTrustClient({ propagate })` of `@zerotrust/client` takes: `inject` runs once per attempt of
 * a call and sets the trace context's headers through `set`.
 */
export interface TraceContextPropagator {
  inject(set: HeaderSetter): void
}

/** Options of {@link traceContext}. */
export interface TraceContextOptions {
  /**
   * The propagator that writes the headers; the global one (`propagation`, as the SDK registered it) by
   * default. Give `new W3CTraceContextPropagator()` to send `traceparent` and `tracestate` only, and keep
   * baggage from the services called.
   */
  readonly propagator?: TextMapPropagator
}

// The carrier is the client's setter itself: no object per attempt to collect the headers in.
const setter: TextMapSetter<HeaderSetter> = {
  set(carrier, key, value) {
    carrier(key, value)
  },
}

/**
 * The trace context of the active OpenTelemetry context, for the outbound calls of `@zerotrust/client`:
 * with an SDK's W3C propagator registered, each attempt of a call made inside a span carries its
 * `traceparent` (and `tracestate`, and `baggage` if that propagator is registered too), so the called
 * service's spans join the caller's trace. It depends on `@opentelemetry/api` only: without an SDK, or
 * outside any span, nothing is sent. The client never lets it set `Authorization`, `DPoP`,
 * `Idempotency-Key` or `Host`.
 *
 * @example
 * const billing = zeroTrustClient({ baseUrl: 'https://billing.internal:8443', tokens, propagate: traceContext() })
 * @see https://www.w3.org/TR/trace-context/
 * @see https://opentelemetry.io/docs/specs/otel/context/api-propagators/
 */
export function traceContext(options: TraceContextOptions = {}): TraceContextPropagator {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('traceContext: options must be an object')
  }
  const propagator = options.propagator
  if (propagator !== undefined && typeof propagator.inject !== 'function') {
    throw new TypeError('traceContext: "propagator" option must be a TextMapPropagator')
  }
  if (propagator === undefined) {
    return Object.freeze({
      inject: function injectTraceContext(set: HeaderSetter): void {
        propagation.inject(context.active(), set, setter)
      },
    })
  }
  return Object.freeze({
    inject: function injectTraceContext(set: HeaderSetter): void {
      propagator.inject(context.active(), set, setter)
    },
  })
}
