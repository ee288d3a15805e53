// Outbound events follow core's decision events: a plain JSON object of identifiers, never a token, a
// proof, a key or the query; a sink that throws (or rejects) is a process warning, never a failed call.
import type { ZeroTrustErrorCode } from '@zerotrust/core'

/**
 * One outbound record: an attempt of a call (`layer: 'client'`), or a token request
 * (`layer: 'client_credentials'`).
 *
 * @example
 * { layer: 'client', outcome: 'allow', code: 'ok', status: 201, method: 'POST',
 *   origin: 'https://billing.internal:8443', path: '/v1/charges', attempt: 1,
 *   workload: 'spiffe://prod.example.com/ns/shop/sa/checkout',
 *   peer: 'spiffe://prod.example.com/ns/billing/sa/billing-api', durationMs: 3.2 }
 */
export interface ClientEvent {
  readonly layer: 'client' | 'client_credentials'
  /**
   * `allow` when the called service (or issuer) answered 2xx/3xx; `deny` when it refused (4xx); `error`
   * when it failed, was unreachable, or was not the workload expected.
   */
  readonly outcome: 'allow' | 'deny' | 'error'
  /** `ok`, or the code of the error this attempt ends or would end the call with. */
  readonly code: 'ok' | ZeroTrustErrorCode
  /** The stable sub-code, one of `clientReasons`. */
  readonly reason?: string
  /** The status the called service answered with, when it answered. */
  readonly status?: number
  /** Set when another attempt follows this one, with the milliseconds it waits first. */
  readonly retryInMs?: number
  readonly method: string
  readonly origin: string
  /** The path, without the query (which could carry secrets). */
  readonly path: string
  /** 1 for the first attempt of a call. */
  readonly attempt: number
  /** This workload's SPIFFE ID, when the call presented an SVID. */
  readonly workload?: string
  /** The SPIFFE ID the server had to present (the first when several are accepted). */
  readonly peer?: string
  /**
   * What did not go as it should without failing the attempt: a trace-context propagator that threw
   * (`propagator_failed`), a header it may not set (`propagator_header_refused:<name>`) or one out of
   * bounds (`propagator_header_invalid`). Stable strings, never a header's value.
   */
  readonly diagnostics?: readonly string[]
  /** For token requests: the client id, and the audience or resource asked for. */
  readonly clientId?: string
  readonly audience?: string
  /** Time the attempt took, in milliseconds. */
  readonly durationMs: number
}

/** Receives every {@link ClientEvent}; must not throw. */
export type ClientEventSink = (event: ClientEvent) => void

/** Hands `event` to `sink`, reporting a throwing or rejecting sink as a process warning. */
export function emit(sink: ClientEventSink, event: ClientEvent): void {
  try {
    const returned: unknown = sink(event)
    if (returned instanceof Promise) returned.catch(sinkFailed)
  } catch (error) {
    sinkFailed(error)
  }
}

function sinkFailed(error: unknown): void {
  const text = error instanceof Error ? error.message : String(error)
  process.emitWarning(`zerotrust: the client's onEvent sink threw: ${text}`, 'ZeroTrustWarning')
}

/** Milliseconds since `started` (a `performance.now()`), to the microsecond. */
export function since(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000
}
