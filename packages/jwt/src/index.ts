export type { VerifyOptions } from '@zerotrust/core'
export { type JwtBearer, jwtBearer } from './jwt-bearer.js'
export type { AsymmetricAlgorithm, HmacAlgorithm, JwtAlgorithm } from './lib/algorithms.js'
export { type JwtBearerOptions, rfc9068Claims, type SecretInput } from './lib/options.js'
