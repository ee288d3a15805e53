import type { Bench, Task } from 'tinybench'
import { machineLine } from './settings.js'
import { type Column, markdownTable } from './table.js'

/** What one task cost, per call, in microseconds. */
export interface Summary {
  readonly mean: number
  readonly p50: number
  readonly p99: number
  readonly samples: number
}

/** Options of {@link report}. */
export interface ReportOptions {
  /** A line printed under the machine line: what was measured, with which settings. */
  readonly title?: string
  /** The task the others are compared with (a raw `node:crypto` call, a bare `Map`): adds a `× baseline` column. */
  readonly baseline?: string
  /**
   * Calls per sample of a batched task, by task name: a task that runs a batch of sequential calls (for
   * costs near the clock's resolution) is reported per call.
   */
  readonly batches?: Readonly<Record<string, number>>
}

/**
 * Summarizes latency samples (milliseconds in, microseconds out). ops/s is 1 / mean latency elsewhere:
 * tinybench's `throughput.mean` averages per-sample rates, which overstates a skewed distribution.
 */
export function summarize(samples: readonly number[], perCall = 1): Summary {
  const sorted = [...samples].sort((x, y) => x - y)
  let sum = 0
  for (const sample of sorted) sum += sample
  const us = 1000 / perCall
  return {
    mean: (sum / sorted.length) * us,
    p50: quantile(sorted, 0.5) * us,
    p99: quantile(sorted, 0.99) * us,
    samples: sorted.length,
  }
}

/**
 * The latency samples of a completed task, in milliseconds.
 *
 * @throws Error when the task did not complete, or ran without `retainSamples`
 */
export function samplesOf(task: Task): readonly number[] {
  const result = task.result
  if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`)
  const samples = result.latency.samples
  if (samples === undefined) throw new Error(`${task.name}: no samples retained`)
  return samples
}

/**
 * Prints the results of a run (a bench, or the tasks of several) the one way every bench file does: the machine line, the title, and a
 * markdown table of mean, p50 and p99 per call, ops/s as 1 / mean latency, the ratio to the baseline
 * when one is named, and the sample count.
 *
 * @returns each task's summary by name, for a file's own closing lines
 * @example
 * const bench = new Bench(benchOptions(1000))
 * bench.add('floor: Map.get', () => map.get(key)).add('ours', () => layer.authenticate(req))
 * await bench.run()
 * report(bench, { baseline: 'floor: Map.get' })
 */
export function report(
  ran: Bench | readonly Task[],
  options: ReportOptions = {},
): ReadonlyMap<string, Summary> {
  const summaries = new Map<string, Summary>()
  for (const task of 'tasks' in ran ? ran.tasks : ran) {
    summaries.set(task.name, summarize(samplesOf(task), options.batches?.[task.name] ?? 1))
  }
  const base = options.baseline === undefined ? undefined : summaries.get(options.baseline)
  if (options.baseline !== undefined && base === undefined) {
    throw new Error(`no task named "${options.baseline}" to compare with`)
  }
  const columns: Column[] = [
    ['task', 'left'],
    ['mean µs', 'right'],
    ['p50 µs', 'right'],
    ['p99 µs', 'right'],
    ['ops/s (1/mean)', 'right'],
  ]
  if (base !== undefined) columns.push(['× baseline', 'right'])
  columns.push(['samples', 'right'])
  const rows = [...summaries].map(([name, s]) => {
    const row = [name, micros(s.mean), micros(s.p50), micros(s.p99), opsPerSecond(s.mean)]
    if (base !== undefined) row.push((s.mean / base.mean).toFixed(2))
    row.push(String(s.samples))
    return row
  })
  console.log(machineLine())
  if (options.title !== undefined) console.log(options.title)
  if (options.baseline !== undefined) console.log(`baseline: ${options.baseline}`)
  console.log(markdownTable(columns, rows))
  return summaries
}

/** Calls per second at a mean latency in microseconds, with thousands separated. */
export function opsPerSecond(meanUs: number): string {
  return Math.round(1e6 / meanUs).toLocaleString('en-US')
}

/** Microseconds with the digits that matter at their size. */
export function micros(value: number): string {
  return value.toFixed(value < 1 ? 3 : value < 10 ? 2 : 1)
}

function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  const lower = sorted[low] ?? Number.NaN
  const upper = sorted[Math.min(low + 1, sorted.length - 1)] ?? Number.NaN
  return lower + (upper - lower) * (at - low)
}
