import { Console } from 'node:console'
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { format, inspect } from 'node:util'
import pino from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { env, loadSecrets, type Secrets } from './index.js'

// Random values, so that no window of them is an ordinary word of the output.
const value = randomBytes(24).toString('base64url')
const apiKey = randomBytes(24).toString('hex')
const schema = z.object({ DB_PASSWORD: z.string().min(32), API_KEY: z.string(), PORT: z.coerce.number() })

let secrets: Secrets<z.output<typeof schema>> | undefined
afterEach(async () => {
  await secrets?.close()
  secrets = undefined
  vi.restoreAllMocks()
})

async function loaded() {
  secrets = await loadSecrets({
    schema,
    sources: [env({ environment: { DB_PASSWORD: value, API_KEY: apiKey, PORT: '5432' } })],
  })
  return secrets
}

/** Every fragment of a secret long enough to identify it: no 8-byte window of it may appear. */
function expectNoSecretIn(output: string) {
  for (const secret of [value, apiKey]) {
    for (let i = 0; i + 8 <= secret.length; i += 1) expect(output).not.toContain(secret.slice(i, i + 8))
  }
}

describe('redaction', () => {
  it('prints [secret NAME] through toString, template literals, JSON.stringify and util.inspect', async () => {
    const s = await loaded()
    expect(String(s.DB_PASSWORD)).toBe('[secret DB_PASSWORD]')
    expect(`${s.DB_PASSWORD}`).toBe('[secret DB_PASSWORD]')
    expect(JSON.stringify({ password: s.DB_PASSWORD })).toBe('{"password":"[secret DB_PASSWORD]"}')
    expect(inspect(s.DB_PASSWORD)).toBe('[secret DB_PASSWORD]')
    expect(JSON.stringify(s)).toBe(
      '{"DB_PASSWORD":"[secret DB_PASSWORD]","API_KEY":"[secret API_KEY]","PORT":"[secret PORT]"}',
    )
    const everything = [
      inspect(s, { depth: 10, showHidden: true }),
      inspect({ nested: { deeper: [s.API_KEY] } }, { depth: 10 }),
      format('%s %o %O %j', s.DB_PASSWORD, s.API_KEY, s, s),
    ].join('\n')
    expectNoSecretIn(everything)
    expect(s.DB_PASSWORD.reveal()).toBe(value)
  })

  it('keeps secrets out of console output', async () => {
    const s = await loaded()
    const stream = new PassThrough()
    let output = ''
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const console = new Console({ stdout: stream, stderr: stream })
    console.log(s)
    console.log('connecting with %s', s.DB_PASSWORD, { key: s.API_KEY })
    console.error(s.API_KEY)
    // console.dir turns custom inspection off: the value still stays in a private field.
    console.dir(s, { depth: 10, showHidden: true })
    console.table([{ password: s.DB_PASSWORD }])
    expect(output).toContain('[secret DB_PASSWORD]')
    expectNoSecretIn(output)

    // And through the global console, as application code writes it.
    const printed: string[] = []
    vi.spyOn(globalThis.console, 'log').mockImplementation((...args: unknown[]) => {
      printed.push(format(...args))
    })
    globalThis.console.log('secrets %o', s, s.API_KEY)
    expect(printed.join('')).toContain('[secret API_KEY]')
    expectNoSecretIn(printed.join(''))
  })

  it('keeps secrets out of pino logs', async () => {
    const s = await loaded()
    let output = ''
    const logger = pino(
      { level: 'trace' },
      {
        write(chunk: string) {
          output += chunk
        },
      },
    )
    logger.info({ secrets: s, password: s.DB_PASSWORD }, 'loaded')
    logger.info('api key %s', s.API_KEY)
    logger.child({ key: s.API_KEY }).warn({ err: new Error(`failed for ${s.DB_PASSWORD}`) }, 'oops')
    expect(output).toContain('[secret DB_PASSWORD]')
    expectNoSecretIn(output)
  })

  it('keeps secrets out of thrown errors', async () => {
    const error = await loadSecrets({
      schema,
      sources: [env({ environment: { DB_PASSWORD: 'short', API_KEY: apiKey, PORT: value } })],
    }).catch((e: unknown) => e)
    const text = [String(error), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })].join(
      '\n',
    )
    expect(text).toContain('"DB_PASSWORD"')
    expectNoSecretIn(text)
    expect(text).not.toContain('short')
  })

  it('never writes to the console or stderr itself', async () => {
    const writes = vi.spyOn(process.stderr, 'write')
    const logs = vi.spyOn(globalThis.console, 'log')
    const s = await loaded()
    await s.forceRefresh()
    expect(writes).not.toHaveBeenCalled()
    expect(logs).not.toHaveBeenCalled()
  })
})
