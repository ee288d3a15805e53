export { type EnvOptions, env } from './env.js'
export { type FilesOptions, files } from './files.js'
export type { SecretSource, SourceContext, SourceValues } from './lib/source.js'
export {
  type LoadSecretsOptions,
  loadSecrets,
  type SecretName,
  type Secrets,
  type SecretsControl,
} from './load-secrets.js'
export { type SecretsReason, secretsReasons } from './reasons.js'
export { Secret } from './secret.js'
export {
  type InvalidSecret,
  SecretsLoadError,
  type SecretsLoadErrorDetails,
  type SourceFailure,
} from './secrets-load-error.js'
export { type VaultOptions, vault } from './vault.js'
