import type { DatabaseCredentials } from '../database-credentials.js'

const inspectCustom = Symbol.for('nodejs.util.inspect.custom')

// Database role names and passwords Vault generates are tens of characters; these bound what is checked.
export const maxUsernameLength = 256
export const maxPasswordLength = 4096

/**
 * Credentials that print without their password: `JSON.stringify`, `util.inspect` (so `console.log`
 * and pino, and `console.dir`, which turns custom inspection off), `String()`, template literals and
 * spreading show the username only. The password is a private field, read through its getter. Two of
 * them compare equal (as the set compares a rotated value) when their usernames are: Vault issues
 * every lease a new database role.
 */
class RedactedCredentials implements DatabaseCredentials {
  readonly username: string
  readonly #password: string

  constructor(username: string, password: string) {
    this.username = username
    this.#password = password
    Object.freeze(this)
  }

  get password(): string {
    return this.#password
  }

  toJSON(): { username: string; password: string } {
    return { username: this.username, password: '[redacted]' }
  }

  toString(): string {
    return `[database credentials ${this.username}]`
  }

  [Symbol.toPrimitive](): string {
    return this.toString()
  }

  [inspectCustom](): string {
    return `DatabaseCredentials { username: '${this.username}', password: '[redacted]' }`
  }
}

/**
 * Checked credentials that never print their password (see {@link RedactedCredentials}).
 *
 * @returns `undefined` when either is not a non-empty string within its bound
 */
export function redactedCredentials(username: unknown, password: unknown): DatabaseCredentials | undefined {
  if (!isBoundedString(username, maxUsernameLength) || !isBoundedString(password, maxPasswordLength)) {
    return undefined
  }
  return new RedactedCredentials(username, password)
}

/** A non-empty string of at most `max` characters. */
export function isBoundedString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max
}
