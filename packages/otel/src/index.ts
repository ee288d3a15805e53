export { type OtelDecisionsOptions, otelDecisions } from './otel-decisions.js'
export { type DecisionLogger, pinoDecisions } from './pino-decisions.js'
