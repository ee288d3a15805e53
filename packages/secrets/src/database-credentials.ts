import { z } from 'zod'
import { isBoundedString, maxPasswordLength, maxUsernameLength } from './lib/credentials.js'

/** A database login: what `vaultDatabase` issues and `rotatingPool` connects with. */
export interface DatabaseCredentials {
  readonly username: string
  readonly password: string
}

/**
 * The zod schema of a secret holding {@link DatabaseCredentials}: use it for the name a
 * `vaultDatabase` source provides. It checks the shape and keeps the object as it is, so the
 * credentials' own redaction (`password: '[redacted]'` in `JSON.stringify` and `util.inspect`) stays.
 *
 * @example
 * const secrets = await loadSecrets({
 *   schema: z.object({ DB: databaseCredentials }),
 *   sources: [vaultDatabase({ address, kubernetes: { role: 'orders' }, role: 'orders-app', name: 'DB' })],
 * })
 */
export const databaseCredentials = z.custom<DatabaseCredentials>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    isBoundedString((value as { username?: unknown }).username, maxUsernameLength) &&
    isBoundedString((value as { password?: unknown }).password, maxPasswordLength),
  { error: 'must be database credentials: a "username" and a "password"' },
)
