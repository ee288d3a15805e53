export type { TrustedHops } from './lib/hops.js'
export type { WorkloadIdentityOptions, WorkloadSource } from './lib/identity-options.js'
export { type WorkloadReason, workloadReasons } from './reasons.js'
export { type SecureContextServer, type ServerTls, type ServerTlsOptions, serverTls } from './server-tls.js'
export {
  isSpiffeIdError,
  parseSpiffeId,
  type SpiffeId,
  SpiffeIdError,
  type SpiffeIdRule,
} from './spiffe-id.js'
export { type Svid, type SvidFilesOptions, type SvidSource, svidFiles } from './svid-files.js'
export { workloadIdentity } from './workload-identity.js'
export {
  isXfccError,
  parseXfcc,
  type XfccElement,
  XfccError,
  type XfccFailure,
  type XfccKey,
} from './xfcc.js'
