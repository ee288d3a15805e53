export { type OtelDecisionsOptions, otelDecisions } from './otel-decisions.js'
export { type DecisionLogger, pinoDecisions } from './pino-decisions.js'
export {
  type HeaderSetter,
  type TraceContextOptions,
  type TraceContextPropagator,
  traceContext,
} from './trace-context.js'
