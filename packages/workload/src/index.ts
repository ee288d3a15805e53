export { type WorkloadReason, workloadReasons } from './reasons.js'
export {
  isSpiffeIdError,
  parseSpiffeId,
  type SpiffeId,
  SpiffeIdError,
  type SpiffeIdRule,
} from './spiffe-id.js'
