// Regression tests for issue 12, item 1: a schema that throws (zod 4 lets an exception from a
// `.transform()` or `.refine()` escape `safeParse`) must count as failing the schema, at startup and on
// rotation, without crashing the process and without any part of the value reaching an error.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { FakeVault } from '../test/fake-vault.js'
import { SecretVolume } from '../test/secret-volume.js'
import { env, files, loadSecrets, type SecretSource, SecretsLoadError, vault } from './index.js'

// JSON.parse quotes its input in the SyntaxError it throws: `Unexpected token 'l', "leaked-…" is not …`.
const marker = 'Xq7-marker'
const notJson = `leaked-${marker}-{`
const goodJson = '{"user":"orders","password":"0123456789abcdef0123"}'
const good = { user: 'orders', password: '0123456789abcdef0123' }

const throwingTransform = z.object({ CONFIG: z.string().transform((text) => JSON.parse(text) as unknown) })
const throwingRefine = z.object({
  CONFIG: z.string().refine((text) => typeof JSON.parse(text) === 'object', { error: 'not an object' }),
})

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

/** Every rendering of an error a log line could take, its cause chain included. */
function renderings(error: unknown): string {
  const texts = [inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error) ?? '']
  let current: unknown = error
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 10; depth += 1) {
    const { message, stack, cause } = current as { message?: unknown; stack?: unknown; cause?: unknown }
    texts.push(String(message), String(stack), inspect(cause, { depth: 10 }))
    current = cause
  }
  return texts.join('\n')
}

/** The parts of `values` that any rendering of `error` contains. */
const leaks = (error: unknown, ...values: string[]) => values.filter((v) => renderings(error).includes(v))

/** Unhandled rejections seen while the test runs (one would end a real process). */
function unhandledRejections(): unknown[] {
  const seen: unknown[] = []
  const listener = (reason: unknown) => seen.push(reason)
  process.on('unhandledRejection', listener)
  cleanup.push(async () => {
    process.off('unhandledRejection', listener)
  })
  return seen
}

// Long enough for a rejection to surface as unhandled, or a second report to arrive.
const settle = () => new Promise((resolve) => setTimeout(resolve, 100))
const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 4000, interval: 10 })

describe('issue 12: a throwing schema at startup', () => {
  it.each([
    ['transform', throwingTransform],
    ['refine', throwingRefine],
  ])(
    'rejects with SecretsLoadError when a %s throws, naming the secret, not the value',
    async (_, schema) => {
      const error = await loadSecrets({
        schema,
        sources: [env({ environment: { CONFIG: notJson } })],
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SecretsLoadError)
      expect(error).toMatchObject({
        code: SecretsLoadError.code,
        missing: [],
        invalid: [{ name: 'CONFIG', problem: 'exception' }],
        failed: [],
      })
      expect((error as Error).cause).toBeUndefined()
      expect(leaks(error, notJson, marker)).toEqual([])
    },
  )

  it('attributes an exception of the object refinement to the schema, and an async refinement counts as one', async () => {
    const objectLevel = z
      .object({ A: z.string(), B: z.string() })
      .refine((values) => JSON.parse(values.A) !== JSON.parse(values.B))
    const error = await loadSecrets({
      schema: objectLevel,
      sources: [env({ environment: { A: notJson, B: '1' } })],
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ invalid: [{ name: '(schema)', problem: 'exception' }] })
    expect(leaks(error, notJson, marker)).toEqual([])

    const asynchronous = z.object({ A: z.string().refine(async (text) => text.length > 0) })
    await expect(
      loadSecrets({ schema: asynchronous, sources: [env({ environment: { A: notJson } })] }),
    ).rejects.toMatchObject({ code: SecretsLoadError.code, invalid: [{ name: 'A', problem: 'exception' }] })
  })

  it('reports a failing schema by issue code only: custom messages, enums and keys never carry the value', async () => {
    const schema = z.object({
      QUOTED: z
        .string()
        .refine((text) => text.startsWith('k-'), { error: (issue) => `bad ${String(issue.input)}` }),
      CHOICE: z.enum(['blue', 'green']),
      PATTERN: z.string().regex(/^k-/),
      JSON_DOC: z.strictObject({ user: z.string() }),
      ADDED: z.string().superRefine((text, ctx) => {
        ctx.addIssue({ code: 'custom', message: text, input: text, path: [text] })
      }),
    })
    const values = {
      QUOTED: `quoted-${marker}`,
      CHOICE: `choice-${marker}`,
      PATTERN: `pattern-${marker}`,
      ADDED: `added-${marker}`,
    }
    const source: SecretSource = {
      label: 'test',
      read: async () =>
        new Map<string, unknown>([
          ...Object.entries(values),
          ['JSON_DOC', { user: 'orders', [`key-${marker}`]: 'x' }],
        ]),
    }
    const error = await loadSecrets({ schema, sources: [source] }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: SecretsLoadError.code,
      invalid: [
        { name: 'QUOTED', problem: 'custom' },
        { name: 'CHOICE', problem: 'invalid_value' },
        { name: 'PATTERN', problem: 'invalid_format' },
        { name: 'JSON_DOC', problem: 'unrecognized_keys' },
        { name: 'ADDED', problem: 'custom' },
      ],
    })
    expect(leaks(error, marker)).toEqual([])
  })

  it('rejects with SecretsLoadError when a source throws synchronously or answers with no Map', async () => {
    const throwing: SecretSource = {
      label: 'sync-throw',
      read: () => {
        throw new Error(`upstream said ${marker}`)
      },
    }
    const wrong = { label: 'not-a-map', read: async () => ({ CONFIG: goodJson }) } as unknown as SecretSource
    const error = await loadSecrets({
      schema: throwingTransform,
      sources: [throwing, wrong, env({ environment: { CONFIG: goodJson } })],
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SecretsLoadError)
    expect(error).toMatchObject({
      failed: [
        { source: 'sync-throw', message: 'the source failed' },
        { source: 'not-a-map', message: 'the source failed' },
      ],
    })
    expect(leaks(error, marker)).toEqual([])
  })
})

describe('issue 12: a rotated value that makes the schema throw', () => {
  it.each([
    ['transform', throwingTransform],
    ['refine', throwingRefine],
  ])(
    'files: a %s that throws keeps the last good value, reports once without the value, and does not crash',
    async (_, schema) => {
      const rejections = unhandledRejections()
      const volume = await SecretVolume.create({ CONFIG: goodJson })
      cleanup.push(() => volume.remove())
      const errors: Error[] = []
      const secrets = await loadSecrets({
        schema,
        sources: [files({ directory: volume.directory, debounce: 20, pollInterval: 0 })],
        onError: (error) => errors.push(error),
      })
      cleanup.push(() => secrets.close())
      const before = secrets.CONFIG.current()

      await volume.write({ CONFIG: notJson })
      await waitFor(() => expect(errors).toHaveLength(1))
      await settle()
      expect(rejections).toEqual([])
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({
        code: 'dependency_unavailable',
        status: 503,
        reason: 'secret_invalid',
      })
      expect(errors[0]?.message).toContain('"CONFIG"')
      expect(errors[0]?.cause).toBeUndefined()
      expect(leaks(errors[0], notJson, marker)).toEqual([])
      expect(secrets.CONFIG.current()).toEqual(before)

      // Not wedged: the next good value is taken.
      const next = '{"user":"orders","password":"rotated-0123456789abcdef"}'
      await volume.write({ CONFIG: next })
      await waitFor(() =>
        expect(secrets.CONFIG.current()).toEqual(schema === throwingRefine ? next : JSON.parse(next)),
      )
      expect(rejections).toEqual([])
    },
  )

  it('env: forceRefresh of a NAME_FILE secret rejects with the schema failure, without the value, and the last good value serves', async () => {
    const rejections = unhandledRejections()
    const directory = await mkdtemp(join(tmpdir(), 'zerotrust-env-'))
    cleanup.push(() => rm(directory, { recursive: true, force: true }))
    const path = join(directory, 'config')
    await writeFile(path, goodJson)
    const errors: Error[] = []
    const secrets = await loadSecrets({
      schema: throwingTransform,
      // Variables do not change while a process runs; the file a NAME_FILE variable names does.
      sources: [env({ environment: { CONFIG_FILE: path } })],
      onError: (error) => errors.push(error),
    })
    cleanup.push(() => secrets.close())

    await writeFile(path, notJson)
    const refused = await secrets.forceRefresh().catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: 'dependency_unavailable', status: 503, reason: 'secret_invalid' })
    expect(leaks(refused, notJson, marker)).toEqual([])
    await settle()
    expect(rejections).toEqual([])
    expect(errors).toHaveLength(1)
    expect(leaks(errors[0], notJson, marker)).toEqual([])
    expect(secrets.CONFIG.current()).toEqual(good)
  })

  it('vault: a scheduled re-read whose value makes the transform throw keeps the last good value', async () => {
    const rejections = unhandledRejections()
    const server = await new FakeVault().start()
    cleanup.push(() => server.close())
    const token = 'hvs.static-token-0123456789'
    server.tokens.set(token, { ttl: 0, renewable: false })
    server.put('secret/orders/api', { CONFIG: goodJson })
    const errors: Error[] = []
    const secrets = await loadSecrets({
      schema: throwingTransform,
      // One re-read per 300 ms: the first failure is seen, and the secrets closed, before a second.
      sources: [vault({ address: server.url, token, path: 'orders/api', refreshInterval: 300 })],
      onError: (error) => errors.push(error),
    })
    cleanup.push(() => secrets.close())

    server.put('secret/orders/api', { CONFIG: notJson })
    await waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(1))
    await secrets.close()
    await settle()
    expect(rejections).toEqual([])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'secret_invalid' })
    expect(leaks(errors[0], notJson, marker)).toEqual([])
    expect(secrets.CONFIG.current()).toEqual(good)
  })

  it('a rotated value that fails the schema normally is reported by name, never with zod text quoting it', async () => {
    const volume = await SecretVolume.create({ TOKEN: 'k-0123456789abcdef' })
    cleanup.push(() => volume.remove())
    const errors: Error[] = []
    const secrets = await loadSecrets({
      schema: z.object({
        TOKEN: z
          .string()
          .refine((text) => text.startsWith('k-'), { error: (issue) => `bad ${String(issue.input)}` }),
      }),
      sources: [files({ directory: volume.directory, debounce: 20, pollInterval: 0 })],
      onError: (error) => errors.push(error),
    })
    cleanup.push(() => secrets.close())
    await volume.write({ TOKEN: `wrong-${marker}` })
    await waitFor(() => expect(errors).toHaveLength(1))
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'secret_invalid' })
    expect(leaks(errors[0], marker)).toEqual([])
    expect(secrets.TOKEN.current()).toBe('k-0123456789abcdef')
  })
})

describe('issue 12: fire-and-forget failures of the refresh', () => {
  it('a rejecting async onError does not crash the process', async () => {
    const rejections = unhandledRejections()
    const volume = await SecretVolume.create({ CONFIG: goodJson })
    cleanup.push(() => volume.remove())
    let calls = 0
    const secrets = await loadSecrets({
      schema: throwingTransform,
      sources: [files({ directory: volume.directory, debounce: 20, pollInterval: 0 })],
      onError: async () => {
        calls += 1
        throw new Error('the log sink is down')
      },
    })
    cleanup.push(() => secrets.close())
    await volume.write({ CONFIG: notJson })
    await waitFor(() => expect(calls).toBe(1))
    await settle()
    expect(rejections).toEqual([])
    expect(secrets.CONFIG.current()).toEqual(good)
  })

  it('a watched source that answers with no Map is reported, and the last good values serve', async () => {
    const rejections = unhandledRejections()
    let answer: unknown = new Map([['CONFIG', goodJson]])
    let changed: (() => void) | undefined
    const source = {
      label: 'custom',
      read: async () => answer,
      start: (context: { changed: () => void }) => {
        changed = context.changed
      },
    } as unknown as SecretSource
    const errors: Error[] = []
    const secrets = await loadSecrets({
      schema: throwingTransform,
      sources: [source],
      onError: (error) => errors.push(error),
    })
    cleanup.push(() => secrets.close())
    answer = { CONFIG: notJson }
    changed?.()
    await waitFor(() => expect(errors).toHaveLength(1))
    await settle()
    expect(rejections).toEqual([])
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'source_failed' })
    expect(secrets.CONFIG.current()).toEqual(good)
  })

  it('a source whose start() throws is reported, and loading succeeds', async () => {
    const errors: Error[] = []
    const source: SecretSource = {
      label: 'custom',
      read: async () => new Map([['CONFIG', goodJson]]),
      start: () => {
        throw new Error(`watch failed for ${marker}`)
      },
    }
    const secrets = await loadSecrets({
      schema: throwingTransform,
      sources: [source],
      onError: (error) => errors.push(error),
    })
    cleanup.push(() => secrets.close())
    expect(secrets.CONFIG.current()).toEqual(good)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'watch' })
    expect(leaks(errors[0], marker)).toEqual([])
  })

  it('a failing onRotate listener is reported by error name, without its message or cause', async () => {
    const volume = await SecretVolume.create({ CONFIG: goodJson })
    cleanup.push(() => volume.remove())
    const errors: Error[] = []
    const secrets = await loadSecrets({
      schema: z.object({ CONFIG: z.string() }),
      sources: [files({ directory: volume.directory, debounce: 20, pollInterval: 0 })],
      onError: (error) => errors.push(error),
    })
    cleanup.push(() => secrets.close())
    // A listener that parses the value quotes it in its SyntaxError.
    secrets.onRotate('CONFIG', (secret) => {
      JSON.parse(secret.current())
    })
    secrets.onRotate('CONFIG', async (secret) => {
      throw new Error(`cannot use ${secret.current()}`)
    })
    await volume.write({ CONFIG: notJson })
    await waitFor(() => expect(errors).toHaveLength(2))
    expect(errors.map((e) => e.message)).toEqual([
      'an "onRotate" listener of "CONFIG" failed (SyntaxError)',
      'an "onRotate" listener of "CONFIG" failed (Error)',
    ])
    for (const error of errors) expect(leaks(error, notJson, marker)).toEqual([])
  })
})
