// What the fleet reported: every service's decision events (and the TLS handshakes its server refused)
// as one stream, and the calls made, for the sequence diagram.
import type { DecisionEvent } from '@zerotrust/core'

export type Service = 'edge' | 'orders' | 'billing'

/** One audit record: a decision event of a service (or a TLS handshake it refused), when it arrived. */
export interface AuditRecord {
  /** Milliseconds since the run started. */
  readonly at: number
  readonly service: Service
  readonly layer: string
  readonly outcome: 'allow' | 'deny' | 'error'
  readonly code: string
  readonly reason?: string
  /** The user the request was for (`subject`), when known. */
  readonly user?: string
  /** The SPIFFE ID of the calling workload, when proven. */
  readonly workload?: string
  /** The decision event as the service reported it. */
  readonly event?: DecisionEvent
}

/** One HTTP call seen in the run, from the scripted client or from one service to the next. */
export interface Hop {
  readonly from: string
  readonly to: string
  readonly method: string
  readonly path: string
  /** The status answered, or why there was none (`TLS refused`). */
  readonly answer: string
}

/** The run's audit stream and call log. */
export class Audit {
  readonly records: AuditRecord[] = []
  readonly hops: Hop[] = []
  readonly #started = performance.now()

  /** The `onDecision` sink of `service`. */
  sink(service: Service): (event: DecisionEvent) => void {
    return (event) => {
      this.record(service, {
        layer: event.layer,
        outcome: event.outcome,
        code: event.code,
        ...(event.reason === undefined ? {} : { reason: event.reason }),
        ...(event.subject === undefined ? {} : { user: event.subject }),
        ...(event.workload === undefined ? {} : { workload: event.workload }),
        event,
      })
    }
  }

  /** Records what a service reported outside its decision events. */
  record(service: Service, record: Omit<AuditRecord, 'at' | 'service'>): void {
    this.records.push({ at: performance.now() - this.#started, service, ...record })
  }

  hop(hop: Hop): void {
    this.hops.push(hop)
  }
}

const columns = ['time', 'service', 'layer', 'outcome', 'code', 'user', 'workload', 'count'] as const

/** Where a step of the story starts in the audit stream. */
export interface StepMark {
  readonly title: string
  /** Index of the step's first record. */
  readonly from: number
}

/**
 * The audit stream as one table, the rows of each step under its title. Within a step, rows alike but
 * for the time (a burst) are shown once, at their first time, with their count.
 */
export function auditTable(records: readonly AuditRecord[], marks: readonly StepMark[] = []): string[] {
  const rows: string[][] = []
  const bounds = [...marks.map((mark) => mark.from), records.length]
  const groups: { title: string | undefined; records: readonly AuditRecord[] }[] =
    marks.length === 0
      ? [{ title: undefined, records }]
      : marks.map((mark, index) => ({
          title: `${index + 1}. ${mark.title}`,
          records: records.slice(mark.from, bounds[index + 1]),
        }))
  if (marks.length > 0 && (marks[0]?.from ?? 0) > 0) {
    groups.unshift({ title: 'start', records: records.slice(0, marks[0]?.from) })
  }
  for (const group of groups) {
    if (group.records.length === 0) continue
    if (group.title !== undefined) rows.push([group.title])
    const seen = new Map<string, string[]>()
    for (const record of group.records) {
      const cells = [
        record.service,
        record.layer,
        record.outcome,
        record.reason === undefined ? record.code : `${record.code} (${record.reason})`,
        record.user ?? '-',
        shortWorkload(record.workload),
      ]
      const key = cells.join('\n')
      const row = seen.get(key)
      if (row !== undefined) {
        row[7] = String(Number(row[7]) + 1)
        continue
      }
      const added = [`${(record.at / 1000).toFixed(3)} s`, ...cells, '1']
      seen.set(key, added)
      rows.push(added)
    }
  }
  const cellsOf = (row: readonly string[]) => (row.length === 1 ? undefined : row)
  const widths = columns.map((name, index) =>
    Math.max(name.length, ...rows.map((row) => (cellsOf(row)?.[index] ?? '').length)),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd()
  return [
    line(columns),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map((row) =>
      row.length === 1
        ? `${row[0]}`
        : line(
            row.map((cell, index) => (index === 7 && cell === '1' ? '' : index === 7 ? `x${cell}` : cell)),
          ),
    ),
  ]
}

/** `spiffe://shop.example.com/ns/shop/sa/edge` as `sa/edge@shop.example.com`, to fit a terminal. */
function shortWorkload(id: string | undefined): string {
  if (id === undefined) return '-'
  const match = /^spiffe:\/\/([^/]+)\/ns\/[^/]+\/(sa\/.+)$/.exec(id)
  return match === null ? id : `${match[2]}@${match[1]}`
}

/** A step of the story and the calls it made, for {@link sequenceDiagram}. */
export interface DiagramStep {
  readonly title: string
  readonly hops: readonly Hop[]
}

const participants: readonly (readonly [string, string])[] = [
  ['client', 'scripted client'],
  ['idp', 'oidc-provider'],
  ['edge', 'edge (Fastify)'],
  ['orders', 'orders (Express)'],
  ['billing', 'billing (Koa)'],
]

/**
 * A Mermaid sequence diagram of the run: a note per step, then its calls. The hops of a step are in the
 * order their answers arrived (innermost first), so requests are drawn in reverse and answers in order.
 */
export function sequenceDiagram(steps: readonly DiagramStep[]): string {
  const text = (value: string) => value.replace(/[;#\n]/g, ' ')
  const lines = ['sequenceDiagram']
  for (const [id, label] of participants) lines.push(`  participant ${id} as ${label}`)
  for (const step of steps) {
    lines.push(`  Note over client,billing: ${text(step.title)}`)
    for (const hop of [...step.hops].reverse()) {
      lines.push(`  ${hop.from}->>${hop.to}: ${text(`${hop.method} ${hop.path}`)}`)
    }
    for (const hop of step.hops) lines.push(`  ${hop.to}-->>${hop.from}: ${text(hop.answer)}`)
  }
  return `${lines.join('\n')}\n`
}
