import { parseOptions } from '@zerotrust/core/layer'
import { z } from 'zod'
import { sourceError } from './lib/errors.js'
import { readSecretFile } from './lib/read-file.js'
import type { SecretSource, SourceValues } from './lib/source.js'

/** Options of {@link env}. */
export interface EnvOptions {
  /** A prefix of every variable: with `'APP_'`, the secret `DB_PASSWORD` is read from `APP_DB_PASSWORD`. */
  readonly prefix?: string
  /**
   * Whether `NAME_FILE` names a file to read when `NAME` is unset (the Docker secrets convention:
   * `DB_PASSWORD_FILE=/run/secrets/db_password`); `true` by default.
   */
  readonly files?: boolean
  /** The variables; `process.env` by default (read at every load, so tests can set it). */
  readonly environment?: Readonly<Record<string, string | undefined>>
}

const schema = z
  .strictObject({
    prefix: z
      .string({ error: 'must be a string' })
      .regex(/^[A-Za-z0-9_]*$/, { error: 'must only contain letters, digits and "_"' })
      .optional(),
    files: z.boolean({ error: 'must be a boolean' }).optional(),
    environment: z.record(z.string(), z.string().optional(), { error: 'must be an object' }).optional(),
  })
  .optional()

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
  const o = parseOptions('env', schema, options)
  const prefix = o?.prefix ?? ''
  const files = o?.files ?? true
  const environment = o?.environment
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
