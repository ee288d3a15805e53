import os from 'node:os'

/**
 * A positive integer from the environment, such as `BENCH_TIME` (ms per task), or `fallback` when unset.
 *
 * @example
 * const time = envInteger('BENCH_TIME', 1000)
 * @throws TypeError naming the variable when it is set to anything but a positive integer
 */
export function envInteger(name: string, fallback: number): number {
  const value = process.env[name]
  if (value === undefined || value === '') return fallback
  const parsed = Number(value)
  if (!Number.isSafeInteger(parsed) || parsed <= 0) {
    throw new TypeError(`"${name}" must be a positive integer`)
  }
  return parsed
}

/**
 * The line that heads every result, so a figure pasted into RESULTS.md says when and where it was
 * measured: date, CPU, cores, memory, Node.
 *
 * @example
 * console.log(machineLine()) // 2025-06-01 · AMD EPYC 7763 × 2 · 7.8 GiB · Node v20.19.2
 */
export function machineLine(): string {
  const cpus = os.cpus()
  const memory = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`
  const cpu = `${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}`
  return `${new Date().toISOString().slice(0, 10)} · ${cpu} · ${memory} · Node ${process.version}`
}
