import { type ContextPropagator, type SvidSource, type TokenSource, zeroTrustClient } from '@zerotrust/client'

declare const traceContext: () => ContextPropagator // import { traceContext } from '@zerotrust/otel'
declare const svid: SvidSource
declare const tokens: TokenSource

export const billing = zeroTrustClient({
  baseUrl: 'https://billing.internal:8443',
  tls: svid,
  expectPeer: 'spiffe://prod.example.com/ns/billing/sa/billing-api',
  tokens,
  // Each attempt carries the active span's traceparent and tracestate (with an OpenTelemetry SDK and its
  // W3C propagator registered; nothing without one). Never Authorization, DPoP, Idempotency-Key or Host.
  propagate: traceContext(),
})
