export { type DatabaseCredentials, databaseCredentials } from './database-credentials.js'
export { env } from './env.js'
export { files } from './files.js'
export type {
  EnvOptions,
  FilesOptions,
  LoadSecretsOptions,
  VaultDatabaseOptions,
  VaultOptions,
} from './lib/options.js'
export type { SecretSource, SourceContext, SourceValues } from './lib/source.js'
export {
  loadSecrets,
  type SecretName,
  type Secrets,
  type SecretsControl,
} from './load-secrets.js'
export { type SecretsReason, secretsReasons } from './reasons.js'
export { type RotationListener, Secret } from './secret.js'
export {
  type InvalidSecret,
  SecretsLoadError,
  type SecretsLoadErrorDetails,
  type SourceFailure,
} from './secrets-load-error.js'
export { vault } from './vault.js'
export { vaultDatabase } from './vault-database.js'
