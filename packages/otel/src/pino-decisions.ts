import type { DecisionEvent, DecisionSink } from '@zerotrust/core'

/** The part of a pino logger (or any logger of the same shape) {@link pinoDecisions} calls. */
export interface DecisionLogger {
  info(object: object, message: string): void
  warn(object: object, message: string): void
  error(object: object, message: string): void
}

/**
 * A decision sink that writes each decision as one JSON log line through a pino logger: `info` for
 * `allow`, `warn` for `deny`, `error` for `error`, the event's fields as they are (stable names, no
 * tokens or secrets: docs/decision-event.schema.json) under `zerotrust`, message `zerotrust decision`.
 * A SIEM reads them from pino's output (stdout, a file, a transport) with no parsing of its own.
 *
 * @example
 * const log = pino()
 * app.use(authenticate(tokens, { publicOrigin, onDecision: pinoDecisions(log) }))
 */
export function pinoDecisions(logger: DecisionLogger): DecisionSink {
  if (
    typeof logger?.info !== 'function' ||
    typeof logger.warn !== 'function' ||
    typeof logger.error !== 'function'
  ) {
    throw new TypeError('pinoDecisions: needs a logger with info, warn and error, such as pino()')
  }
  return function logDecision(event: DecisionEvent): void {
    const record = { zerotrust: event }
    if (event.outcome === 'allow') logger.info(record, 'zerotrust decision')
    else if (event.outcome === 'deny') logger.warn(record, 'zerotrust decision')
    else logger.error(record, 'zerotrust decision')
  }
}
