export { idempotency } from './idempotency.js'
export { defaultReplayHeaders, type IdempotencyOptions } from './lib/options.js'
export { type MemoryIdempotencyStoreOptions, memoryIdempotencyStore } from './memory-store.js'
export { type IdempotencyReason, idempotencyReasons } from './reasons.js'
