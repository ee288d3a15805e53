// The kit of `@zerotrust/core/adapter`: what a framework adapter needs beside the names users import
// from `@zerotrust/core`. Re-exports only.
export {
  type AdapterContext,
  type AdapterOptions,
  type AdapterSettings,
  adapterSettings,
  attachContext,
  checkAuthorizer,
  checkRealm,
  contextOf,
  noOrigin,
} from '../adapter.js'
export { captureFetchResponse } from '../capture-fetch.js'
export { captureNodeResponse, type NodeResponseTarget } from '../capture-node.js'
export {
  type AllowedHeaders,
  type RenderedContext,
  reportRendered,
  runAuthentication,
  runAuthorization,
} from '../decision.js'
export { toZeroTrustError } from '../errors.js'
export { exposeHeaders } from '../expose-headers.js'
export {
  type CapturedResponse,
  checkIdempotencyLayer,
  type IdempotencyBegin,
  type IdempotencyHandle,
  type IdempotencyInput,
  parsedBody,
  type RequestBody,
} from '../idempotency.js'
export { type OptionMistake, optionError } from '../options.js'
export { type Replay, replayResponse } from '../replay.js'
export {
  type ConnectionInfo,
  type FetchRequestOptions,
  fromFetchRequest,
  fromNodeRequest,
  type NodeRequestOptions,
  type NodeRequestSource,
  type OriginOptions,
  type OriginResolver,
  originResolver,
  requestTarget,
  withRoute,
} from '../request.js'
