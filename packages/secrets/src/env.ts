import { sourceError } from './lib/errors.js'
import { type EnvOptions, envSettings } from './lib/options.js'
import { readSecretFile } from './lib/read-file.js'
import type { SecretSource, SourceValues } from './lib/source.js'

/**
 * Environment variables as a source, with an optional prefix, and `NAME_FILE` variables naming files
 * (Docker secrets). Environment variables do not change while a process runs, but `NAME_FILE` files are
 * re-read on `forceRefresh()`.
 *
 * @example
 * loadSecrets({ schema, sources: [env({ prefix: 'APP_' })] })
 * @see https://docs.docker.com/engine/swarm/secrets/#build-support-for-docker-secrets-into-your-images
 */
export function env(options: EnvOptions = {}): SecretSource {
  const { prefix, files, environment } = envSettings(options)
  return {
    label: prefix === '' ? 'env' : `env(${prefix}*)`,
    async read(names: readonly string[]): Promise<SourceValues> {
      const variables = environment ?? process.env
      const found = new Map<string, unknown>()
      for (const name of names) {
        const variable = `${prefix}${name}`
        const value = variables[variable]
        if (value !== undefined) {
          found.set(name, value)
          continue
        }
        const path = files ? variables[`${variable}_FILE`] : undefined
        if (path === undefined || path === '') continue
        // A missing or unreadable file is a misconfiguration, not an absent secret.
        const text = await readSecretFile(path)
        if (text === undefined) {
          throw sourceError(`"${variable}_FILE" names a file that does not exist`, 'file')
        }
        found.set(name, text)
      }
      return found
    },
  }
}
