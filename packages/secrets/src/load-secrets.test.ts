import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { env, loadSecrets, type Secret, type SecretSource, SecretsLoadError } from './index.js'

const strong = 'p4ssw0rd-0123456789-abcdefghijklmnop'
let directory: string

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'zerotrust-env-'))
  await writeFile(join(directory, 'db_password'), `${strong}\n`)
})
afterAll(() => rm(directory, { recursive: true, force: true }))

const schema = z.object({
  DB_PASSWORD: z.string().min(32),
  PORT: z.coerce.number().int(),
  REGION: z.string().optional(),
})

describe('env', () => {
  it('reads prefixed variables and coerces them through the schema', async () => {
    const secrets = await loadSecrets({
      schema,
      sources: [
        env({ prefix: 'APP_', environment: { APP_DB_PASSWORD: strong, APP_PORT: '8443', PORT: '1' } }),
      ],
    })
    expect(secrets.DB_PASSWORD.current()).toBe(strong)
    expect(secrets.PORT.current()).toBe(8443)
    expect(secrets.REGION.current()).toBeUndefined()
    expect(secrets.get('PORT')).toBe(secrets.PORT)
    await secrets.close()
  })

  it('reads NAME_FILE variables (Docker secrets) without the trailing newline', async () => {
    const secrets = await loadSecrets({
      schema,
      sources: [env({ environment: { DB_PASSWORD_FILE: join(directory, 'db_password'), PORT: '80' } })],
    })
    expect(secrets.DB_PASSWORD.current()).toBe(strong)
    await secrets.close()
  })

  it('prefers the variable over NAME_FILE, and ignores NAME_FILE when "files" is false', async () => {
    const path = join(directory, 'db_password')
    const both = await loadSecrets({
      schema,
      sources: [
        env({ environment: { DB_PASSWORD: `${strong}-direct`, DB_PASSWORD_FILE: path, PORT: '80' } }),
      ],
    })
    expect(both.DB_PASSWORD.current()).toBe(`${strong}-direct`)
    await both.close()
    await expect(
      loadSecrets({
        schema,
        sources: [env({ files: false, environment: { DB_PASSWORD_FILE: path, PORT: '80' } })],
      }),
    ).rejects.toMatchObject({ code: 'ERR_SECRETS_LOAD', missing: ['DB_PASSWORD'] })
  })

  it('fails when NAME_FILE names a file that does not exist', async () => {
    const error = await loadSecrets({
      schema,
      sources: [env({ environment: { DB_PASSWORD_FILE: join(directory, 'nope'), PORT: '80' } })],
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_SECRETS_LOAD', failed: [{ source: 'env' }] })
    expect((error as Error).message).toContain('"DB_PASSWORD_FILE" names a file that does not exist')
  })

  it('takes each name from the first source that has it', async () => {
    const secrets = await loadSecrets({
      schema,
      sources: [
        env({ environment: { PORT: '1' } }),
        env({ prefix: 'FALLBACK_', environment: { FALLBACK_PORT: '2', FALLBACK_DB_PASSWORD: strong } }),
      ],
    })
    expect(secrets.PORT.current()).toBe(1)
    expect(secrets.DB_PASSWORD.current()).toBe(strong)
    await secrets.close()
  })
})

describe('startup failures', () => {
  it('lists every missing and invalid secret and the sources tried, in one error, without values', async () => {
    const tooShort = 'short-secret-value-xyz'
    const error = await loadSecrets({
      schema: z.object({
        DB_PASSWORD: z.string().min(32),
        API_KEY: z.string(),
        SIGNING_KEY: z.string().min(32),
        PORT: z.coerce.number().int(),
        OPTIONAL: z.string().optional(),
      }),
      sources: [
        env({ prefix: 'APP_', environment: { APP_SIGNING_KEY: tooShort, APP_PORT: 'eighty' } }),
        env(),
      ],
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SecretsLoadError)
    expect(error).toMatchObject({
      code: SecretsLoadError.code,
      missing: ['DB_PASSWORD', 'API_KEY'],
      invalid: [
        { name: 'SIGNING_KEY', problem: 'too_small: minimum 32' },
        { name: 'PORT', problem: 'invalid_type: expected number' },
      ],
      sources: ['env(APP_*)', 'env'],
    })
    const text = `${(error as Error).message} ${JSON.stringify(error)} ${String((error as Error).stack)}`
    expect(text).toContain('"DB_PASSWORD"')
    expect(text).toContain('"API_KEY"')
    expect(text).toContain('env(APP_*), env')
    expect(text).not.toContain(tooShort)
    expect(text).not.toContain('eighty')
  })

  it('fails when a source fails, even if others have the secrets', async () => {
    const broken: SecretSource = {
      label: 'broken',
      read: () => Promise.reject(new Error(`upstream said ${strong}`)),
    }
    const error = await loadSecrets({
      schema,
      sources: [broken, env({ environment: { DB_PASSWORD: strong, PORT: '1' } })],
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ failed: [{ source: 'broken', message: 'the source failed' }] })
    expect((error as Error).message).not.toContain(strong)
  })

  it('rejects option mistakes with a TypeError naming the option', async () => {
    const sources = [env()]
    await expect(loadSecrets({ schema: {} as never, sources })).rejects.toThrow(
      new TypeError('loadSecrets: "schema" option must be a zod object schema'),
    )
    await expect(loadSecrets({ schema, sources: [] })).rejects.toThrow(
      new TypeError('loadSecrets: "sources" option must be a non-empty array of sources'),
    )
    await expect(loadSecrets({ schema: z.object({ close: z.string() }), sources })).rejects.toThrow(
      /"schema" option cannot name a secret "get"/,
    )
    await expect(loadSecrets({ schema, sources, maxStaleness: -1 })).rejects.toThrow(
      new TypeError(
        'loadSecrets: "maxStaleness" option must be a non-negative integer number of milliseconds',
      ),
    )
    expect(() => env({ prefix: 'A-B' })).toThrow(
      new TypeError('env: "prefix" option must only contain letters, digits and "_"'),
    )
  })
})

describe('types', () => {
  it('types each secret from the schema', async () => {
    const secrets = await loadSecrets({
      schema,
      sources: [env({ environment: { DB_PASSWORD: strong, PORT: '1' } })],
    })
    expectTypeOf(secrets.DB_PASSWORD).toEqualTypeOf<Secret<string>>()
    expectTypeOf(secrets.PORT.current()).toEqualTypeOf<number>()
    expectTypeOf(secrets.REGION.current()).toEqualTypeOf<string | undefined>()
    expectTypeOf(secrets.get('PORT')).toEqualTypeOf<Secret<number>>()
    // @ts-expect-error: not in the schema
    expect(() => secrets.get('NOPE')).toThrow(new TypeError('get: "NOPE" is not a secret of the schema'))
    // @ts-expect-error: not in the schema
    expect(() => secrets.onRotate('NOPE', () => {})).toThrow(/"NOPE" is not a secret of the schema/)
    await secrets.close()
  })
})
