export { type WorkloadReason, workloadReasons } from './reasons.js'
