import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { DecisionEvent } from '@zerotrust/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { otelDecisions } from './otel-decisions.js'
import { pinoDecisions } from './pino-decisions.js'

// One request through every layer (jwt, ratelimit, scopes, cedar, idempotency), as the adapters report it.
const request = { method: 'POST', path: '/orders', requestId: 'r-1' } as const
const who = { subject: 'alice', clientId: 'web-app', issuer: 'https://idp.example.com/' }
const events: DecisionEvent[] = [
  { layer: 'jwt', outcome: 'allow', code: 'ok', ...who, ...request, durationMs: 0.4 },
  {
    layer: 'ratelimit',
    outcome: 'allow',
    code: 'ok',
    ...who,
    ...request,
    policies: ['writes'],
    durationMs: 0.01,
  },
  { layer: 'scopes', outcome: 'allow', code: 'ok', ...who, ...request, durationMs: 0.002 },
  { layer: 'cedar', outcome: 'allow', code: 'ok', ...who, ...request, policies: ['p1'], durationMs: 0.05 },
  {
    layer: 'idempotency',
    outcome: 'deny',
    code: 'idempotency_conflict',
    reason: 'in_flight',
    status: 409,
    ...who,
    ...request,
    durationMs: 0.3,
  },
]

describe('otelDecisions with the OpenTelemetry SDK', () => {
  const spans = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  const contextManager = new AsyncLocalStorageContextManager()

  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable())
  })
  afterAll(async () => {
    context.disable()
    await meterProvider.shutdown()
    await tracerProvider.shutdown()
  })

  it('records span events on the active span and metrics of one request through every layer', async () => {
    const sink = otelDecisions({ meterProvider })
    const tracer = tracerProvider.getTracer('test')
    await tracer.startActiveSpan('POST /orders', async (span) => {
      for (const event of events) sink(event)
      span.end()
    })
    // Outside any span only the metrics are recorded.
    sink(events[0] as DecisionEvent)

    const [span] = spans.getFinishedSpans()
    expect(span?.events.map((e) => e.name)).toEqual(Array(5).fill('zerotrust.decision'))
    expect(span?.events[1]?.attributes).toMatchObject({
      'zerotrust.layer': 'ratelimit',
      'zerotrust.outcome': 'allow',
      'zerotrust.code': 'ok',
      'zerotrust.policies': ['writes'],
      'http.request.method': 'POST',
      'url.path': '/orders',
      'enduser.id': 'alice',
    })
    expect(span?.events[4]?.attributes).toMatchObject({
      'zerotrust.code': 'idempotency_conflict',
      'error.type': 'idempotency_conflict',
      'zerotrust.reason': 'in_flight',
      'http.response.status_code': 409,
    })
    expect(span?.attributes['error.type']).toBe('idempotency_conflict')

    await reader.forceFlush()
    const metrics = exporter
      .getMetrics()
      .at(-1)
      ?.scopeMetrics.find((s) => s.scope.name === '@zerotrust/otel')?.metrics
    const counter = metrics?.find((m) => m.descriptor.name === 'zerotrust.decisions')
    const points = counter?.dataPoints.map((p) => [
      p.attributes['zerotrust.layer'],
      p.attributes['zerotrust.code'],
      p.value,
    ])
    expect(points).toEqual(
      expect.arrayContaining([
        ['jwt', 'ok', 2],
        ['ratelimit', 'ok', 1],
        ['scopes', 'ok', 1],
        ['cedar', 'ok', 1],
        ['idempotency', 'idempotency_conflict', 1],
      ]),
    )
    expect(
      counter?.dataPoints.find((p) => p.attributes['zerotrust.code'] === 'idempotency_conflict')?.attributes,
    ).toEqual({
      'zerotrust.layer': 'idempotency',
      'zerotrust.outcome': 'deny',
      'zerotrust.code': 'idempotency_conflict',
      'error.type': 'idempotency_conflict',
    })
    const histogram = metrics?.find((m) => m.descriptor.name === 'zerotrust.decision.duration')
    expect(histogram?.descriptor.unit).toBe('s')
    const jwt = histogram?.dataPoints.find((p) => p.attributes['zerotrust.layer'] === 'jwt')
    expect(jwt?.value).toMatchObject({ count: 2, sum: 0.0008 })
  })

  it('is a no-op without an SDK', () => {
    const sink = otelDecisions()
    expect(() => sink(events[0] as DecisionEvent)).not.toThrow()
  })

  it('refuses a meterProvider that is none', () => {
    expect(() => otelDecisions({ meterProvider: {} as never })).toThrow(
      'otelDecisions: "meterProvider" option',
    )
  })
})

describe('pinoDecisions', () => {
  it('writes one JSON line per decision at the level of its outcome, with the stable fields', async () => {
    const { pino } = await import('pino')
    const lines: string[] = []
    const log = pino({ base: null, timestamp: false }, { write: (line: string) => lines.push(line) })
    const sink = pinoDecisions(log)
    sink(events[0] as DecisionEvent)
    sink(events[4] as DecisionEvent)
    sink({ ...(events[0] as DecisionEvent), outcome: 'error', code: 'dependency_unavailable' })
    const parsed = lines.map((line) => JSON.parse(line))
    expect(parsed.map((p) => p.level)).toEqual([30, 40, 50])
    expect(parsed[1]).toEqual({ level: 40, msg: 'zerotrust decision', zerotrust: events[4] })
  })

  it('needs a logger', () => {
    expect(() => pinoDecisions({} as never)).toThrow(TypeError)
  })
})
