import type { IncomingHttpHeaders } from 'node:http'
import {
  context,
  defaultTextMapGetter,
  propagation,
  ROOT_CONTEXT,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import {
  type ClientEvent,
  type ContextPropagator,
  type TokenSource,
  zeroTrustClient,
} from '@zerotrust/client'
import { startHttpServer, type TestHttpServer } from '@zerotrust/testkit'
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest'
import { type TraceContextPropagator, traceContext } from './trace-context.js'

// Issue 18: outbound calls of @zerotrust/client propagate the trace context, through traceContext() on
// @opentelemetry/api alone, checked with the real SDK and a real loopback server.

let server: TestHttpServer
const received: IncomingHttpHeaders[] = []
/** The statuses the server answers with, in turn; 200 once they are spent. */
const statuses: number[] = []

beforeAll(async () => {
  server = await startHttpServer((req, res) => {
    received.push(req.headers)
    res.writeHead(statuses.shift() ?? 200, { 'content-type': 'application/json' }).end('{}')
  })
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => {
  received.length = 0
  statuses.length = 0
})

const traceHeaders = (headers: IncomingHttpHeaders | undefined) => ({
  traceparent: headers?.traceparent,
  tracestate: headers?.tracestate,
  baggage: headers?.baggage,
})
const none = { traceparent: undefined, tracestate: undefined, baggage: undefined }

/** A token source of one fixed token, as clientCredentials would hand out. */
const tokens: TokenSource = {
  async token() {
    const token = { type: 'Bearer' as const, expiresAt: Date.now() + 60_000 }
    Object.defineProperty(token, 'value', { value: 'the-clients-token' })
    return token as never
  },
  invalidate() {},
}

it("is what the client's propagate option takes", () => {
  expectTypeOf<TraceContextPropagator>().toMatchTypeOf<ContextPropagator>()
})

describe('traceContext without an OpenTelemetry SDK', () => {
  it('sends no trace headers, inside a span of the no-op API or outside any', async () => {
    const client = zeroTrustClient({ baseUrl: server.url, propagate: traceContext() })
    try {
      await trace.getTracer('test').startActiveSpan('GET /orders', async (span) => {
        await client.fetch('/orders')
        span.end()
      })
      await client.fetch('/orders')
      expect(received.map(traceHeaders)).toEqual([none, none])
    } finally {
      await client.close()
    }
  })
})

describe('traceContext with the OpenTelemetry SDK', () => {
  const spans = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  const tracer = provider.getTracer('test')

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    propagation.setGlobalPropagator(
      new CompositePropagator({
        propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
      }),
    )
  })
  afterAll(async () => {
    propagation.disable()
    context.disable()
    await provider.shutdown()
  })

  it("sends the active span's traceparent, at every attempt of a retried call", async () => {
    statuses.push(503)
    const events: ClientEvent[] = []
    const client = zeroTrustClient({
      baseUrl: server.url,
      tokens,
      retry: { attempts: 2, baseDelay: 1, maxDelay: 5 },
      propagate: traceContext(),
      onEvent: (event) => events.push(event),
    })
    try {
      const { traceId, spanId } = await tracer.startActiveSpan('POST /orders', async (span) => {
        const baggage = propagation.createBaggage({ tenant: { value: 'acme' } })
        await context.with(propagation.setBaggage(context.active(), baggage), () =>
          client.fetch('/v1/charges', { method: 'POST', body: '{}', idempotencyKey: 'order-1' }),
        )
        span.end()
        return span.spanContext()
      })
      // W3C Trace Context §3.2: version 00, the trace id, the parent (this span: the client makes none),
      // sampled.
      const traceparent = `00-${traceId}-${spanId}-01`
      expect(received.map(traceHeaders)).toEqual([
        { traceparent, tracestate: undefined, baggage: 'tenant=acme' },
        { traceparent, tracestate: undefined, baggage: 'tenant=acme' },
      ])
      expect(received.map((h) => [h.authorization, h['idempotency-key']])).toEqual([
        ['Bearer the-clients-token', '"order-1"'],
        ['Bearer the-clients-token', '"order-1"'],
      ])
      expect(events.map((e) => [e.attempt, e.status, e.diagnostics])).toEqual([
        [1, 503, undefined],
        [2, 200, undefined],
      ])
      // Outside any span, nothing.
      await client.fetch('/orders')
      expect(traceHeaders(received.at(-1))).toEqual(none)
    } finally {
      await client.close()
    }
  })

  it('continues an incoming trace with its tracestate, and sends no baggage with a W3C propagator given', async () => {
    const w3c = new W3CTraceContextPropagator()
    const client = zeroTrustClient({ baseUrl: server.url, propagate: traceContext({ propagator: w3c }) })
    try {
      // What an inbound request's headers gave, as an HTTP server instrumentation extracts it.
      const incoming = {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'congo=t61rcWkgMzE',
      }
      const parent = w3c.extract(ROOT_CONTEXT, incoming, defaultTextMapGetter)
      const baggage = propagation.createBaggage({ tenant: { value: 'acme' } })
      await context.with(propagation.setBaggage(parent, baggage), () => client.fetch('/orders'))
      expect(traceHeaders(received.at(-1))).toEqual({ ...incoming, baggage: undefined })
    } finally {
      await client.close()
    }
  })

  it("never lets a propagator set the client's credentials or key", async () => {
    const rogue: TextMapPropagator = {
      inject(_context, carrier, setter) {
        setter.set(carrier, 'authorization', 'Bearer stolen')
        setter.set(carrier, 'Idempotency-Key', '"another"')
        setter.set(carrier, 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
      },
      extract: (ctx) => ctx,
      fields: () => ['traceparent'],
    }
    const events: ClientEvent[] = []
    const client = zeroTrustClient({
      baseUrl: server.url,
      tokens,
      propagate: traceContext({ propagator: rogue }),
      onEvent: (event) => events.push(event),
    })
    try {
      await client.fetch('/v1/charges', { method: 'POST', body: '{}', idempotencyKey: 'order-2' })
      expect(received.at(-1)).toMatchObject({
        authorization: 'Bearer the-clients-token',
        'idempotency-key': '"order-2"',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      })
      expect(events[0]?.diagnostics).toEqual([
        'propagator_header_refused:authorization',
        'propagator_header_refused:idempotency-key',
      ])
    } finally {
      await client.close()
    }
  })
})

it('names the option that is not a propagator', () => {
  expect(() => traceContext({ propagator: {} as never })).toThrow(
    'traceContext: "propagator" option must be a TextMapPropagator',
  )
  expect(() => traceContext(null as never)).toThrow('traceContext: options must be an object')
})
