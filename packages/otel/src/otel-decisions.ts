import { type Attributes, type MeterProvider, metrics, trace } from '@opentelemetry/api'
import type { DecisionEvent, DecisionSink } from '@zerotrust/core'

/** Options of {@link otelDecisions}. */
export interface OtelDecisionsOptions {
  /** Where the instruments come from; the global meter provider (`metrics`) by default. */
  readonly meterProvider?: MeterProvider
}

const scope = '@zerotrust/otel'

/**
 * A decision sink that records each zerotrust decision on OpenTelemetry: an event `zerotrust.decision`
 * on the active span (a denial or failure also sets the span's `error.type`), a counter
 * `zerotrust.decisions` by layer, outcome and code, and a histogram `zerotrust.decision.duration` (in
 * seconds, as OpenTelemetry's semantic conventions measure durations) by layer and outcome. It depends
 * on `@opentelemetry/api` only: without an SDK registered every call is a no-op. Metrics carry no
 * subject or path, whose values are unbounded.
 *
 * @example
 * app.use(authenticate(tokens, { publicOrigin, onDecision: otelDecisions() }))
 * @see https://opentelemetry.io/docs/specs/semconv/general/recording-errors/
 */
export function otelDecisions(options: OtelDecisionsOptions = {}): DecisionSink {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('otelDecisions: options must be an object')
  }
  const provider = options.meterProvider ?? metrics
  if (typeof provider.getMeter !== 'function') {
    throw new TypeError('otelDecisions: "meterProvider" option must be a MeterProvider')
  }
  const meter = provider.getMeter(scope)
  const decisions = meter.createCounter('zerotrust.decisions', {
    description: 'Authentication and authorization decisions of zerotrust layers',
    unit: '{decision}',
  })
  const duration = meter.createHistogram('zerotrust.decision.duration', {
    description: 'Time a zerotrust layer took to decide',
    unit: 's',
  })
  return function recordDecision(event: DecisionEvent): void {
    const counted: Attributes = {
      'zerotrust.layer': event.layer,
      'zerotrust.outcome': event.outcome,
      'zerotrust.code': event.code,
    }
    if (event.code !== 'ok') counted['error.type'] = event.code
    decisions.add(1, counted)
    duration.record(event.durationMs / 1000, {
      'zerotrust.layer': event.layer,
      'zerotrust.outcome': event.outcome,
    })
    const span = trace.getActiveSpan()
    if (span === undefined || !span.isRecording()) return
    span.addEvent('zerotrust.decision', spanAttributes(event, counted))
    if (event.code !== 'ok') span.setAttribute('error.type', event.code)
  }
}

function spanAttributes(event: DecisionEvent, counted: Attributes): Attributes {
  const attributes: Attributes = { ...counted, 'http.request.method': event.method, 'url.path': event.path }
  if (event.reason !== undefined) attributes['zerotrust.reason'] = event.reason
  if (event.status !== undefined) attributes['http.response.status_code'] = event.status
  if (event.subject !== undefined) attributes['enduser.id'] = event.subject
  if (event.clientId !== undefined) attributes['zerotrust.client_id'] = event.clientId
  if (event.issuer !== undefined) attributes['zerotrust.issuer'] = event.issuer
  if (event.workload !== undefined) attributes['zerotrust.workload'] = event.workload
  if (event.policies !== undefined) attributes['zerotrust.policies'] = [...event.policies]
  if (event.ignoredHeaders !== undefined) attributes['zerotrust.ignored_headers'] = [...event.ignoredHeaders]
  attributes['zerotrust.duration_ms'] = event.durationMs
  return attributes
}
