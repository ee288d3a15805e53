import type { BenchOptions } from 'tinybench'

/**
 * The tinybench settings every bench file starts from: `time` ms per task, a warmup, samples kept for
 * `report`, and a task that throws stops the run (a benchmark of a refusal measures the wrong thing).
 *
 * @example
 * const bench = new Bench(benchOptions(envInteger('BENCH_TIME', 1000)))
 */
export function benchOptions(time: number, overrides: BenchOptions = {}): BenchOptions {
  return { time, warmup: true, warmupTime: 250, throws: true, retainSamples: true, ...overrides }
}
