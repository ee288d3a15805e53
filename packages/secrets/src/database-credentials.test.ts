import { Console } from 'node:console'
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { format, inspect, isDeepStrictEqual } from 'node:util'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { databaseCredentials } from './index.js'
import { redactedCredentials } from './lib/credentials.js'

// Random, so that no window of it is an ordinary word of the output.
const password = randomBytes(24).toString('base64url')
const username = 'v-kubernetes-orders-app-x1y2z3-1796300000'

/** No 8-character window of the password may appear. */
function expectNoPasswordIn(output: string) {
  for (let i = 0; i + 8 <= password.length; i += 1) expect(output).not.toContain(password.slice(i, i + 8))
}

describe('database credentials', () => {
  const credentials = redactedCredentials(username, password)
  if (credentials === undefined) throw new Error('credentials were refused')

  it('give the password to code that reads it, and print without it', () => {
    expect(credentials.password).toBe(password)
    expect(credentials.username).toBe(username)
    expect(String(credentials)).toBe(`[database credentials ${username}]`)
    expect(`${credentials}`).toBe(`[database credentials ${username}]`)
    expect(JSON.stringify({ credentials })).toBe(
      `{"credentials":{"username":"${username}","password":"[redacted]"}}`,
    )
    expect(inspect(credentials)).toBe(
      `DatabaseCredentials { username: '${username}', password: '[redacted]' }`,
    )
    const everything = [
      inspect(credentials, { showHidden: true, depth: 10 }),
      inspect(credentials, { customInspect: false, showHidden: true }),
      inspect({ ...credentials }),
      format('%s %o %O %j', credentials, credentials, credentials, credentials),
      Object.keys(credentials).join(','),
    ].join('\n')
    expect(everything).toContain(username)
    expectNoPasswordIn(everything)
  })

  it('stay out of console and pino output', () => {
    let output = ''
    const stream = new PassThrough()
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const console = new Console({ stdout: stream, stderr: stream })
    console.log(credentials)
    console.log('connecting as %s with %o', credentials, { credentials })
    console.dir(credentials, { depth: 10, showHidden: true, customInspect: false })
    console.table([credentials])
    const logger = pino({ level: 'trace' }, { write: (chunk: string) => (output += chunk) })
    logger.info({ credentials }, 'connected as %s', credentials)
    logger.error({ err: new Error(`login failed for ${credentials}`) }, 'failed')
    expect(output).toContain('[redacted]')
    expectNoPasswordIn(output)
  })

  it('are checked by their schema, which keeps the object it is given', () => {
    expect(databaseCredentials.parse(credentials)).toBe(credentials)
    const plain = { username: 'orders', password: 'from-kv' }
    expect(databaseCredentials.parse(plain)).toBe(plain)
    for (const wrong of [{ username: 'orders' }, { username: '', password: 'x' }, 'orders:x', null]) {
      expect(databaseCredentials.safeParse(wrong).success).toBe(false)
    }
    expect(redactedCredentials(username, 'x'.repeat(4097))).toBeUndefined()
    expect(redactedCredentials(42, password)).toBeUndefined()
  })

  it('compare by username, as the set compares a rotated value (each lease is a new role)', () => {
    expect(isDeepStrictEqual(credentials, redactedCredentials(username, password))).toBe(true)
    expect(isDeepStrictEqual(credentials, redactedCredentials(`${username}-2`, password))).toBe(false)
  })
})
