export { benchOptions } from './bench-options.js'
export {
  micros,
  opsPerSecond,
  type ReportOptions,
  report,
  type Summary,
  samplesOf,
  summarize,
} from './report.js'
export { envInteger, machineLine } from './settings.js'
export { type Column, markdownTable } from './table.js'
