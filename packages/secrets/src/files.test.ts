import { randomBytes } from 'node:crypto'
import { readlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { RequestLike } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { SecretVolume } from '../test/secret-volume.js'
import { files, loadSecrets, type SecretSource } from './index.js'

const key = () => randomBytes(32).toString('base64url')
const schema = z.object({ JWT_SECRET: z.string().min(32), DB_PASSWORD: z.string().min(16) })

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function mounted(
  values: Record<string, string>,
  options: { pollInterval?: number; debounce?: number } = {},
) {
  const volume = await SecretVolume.create(values)
  cleanup.push(() => volume.remove())
  const errors: Error[] = []
  const secrets = await loadSecrets({
    schema,
    sources: [files({ directory: volume.directory, debounce: 20, pollInterval: 0, ...options })],
    onError: (error) => errors.push(error),
  })
  cleanup.push(() => secrets.close())
  return { volume, secrets, errors }
}

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 4000, interval: 10 })

describe('files', () => {
  it('reads a Kubernetes secret volume through its per-key symlinks', async () => {
    const values = { JWT_SECRET: key(), DB_PASSWORD: key() }
    const { volume, secrets } = await mounted(values)
    expect(await readlink(join(volume.directory, 'JWT_SECRET'))).toBe(join('..data', 'JWT_SECRET'))
    expect(await readlink(join(volume.directory, '..data'))).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_/)
    expect(secrets.JWT_SECRET.current()).toBe(values.JWT_SECRET)
    expect(secrets.DB_PASSWORD.current()).toBe(values.DB_PASSWORD)
  })

  it('follows several atomic swaps of "..data" and calls onRotate for what changed', async () => {
    const db = key()
    const { volume, secrets } = await mounted({ JWT_SECRET: key(), DB_PASSWORD: db })
    const rotated: string[] = []
    secrets.onRotate('JWT_SECRET', (secret) => {
      rotated.push(secret.current())
    })
    const dbRotations = vi.fn()
    secrets.onRotate('DB_PASSWORD', dbRotations)
    for (let round = 0; round < 4; round += 1) {
      const next = key()
      await volume.write({ JWT_SECRET: next, DB_PASSWORD: db })
      await waitFor(() => expect(secrets.JWT_SECRET.current()).toBe(next))
      expect(rotated.at(-1)).toBe(next)
    }
    expect(rotated).toHaveLength(4)
    expect(dbRotations).not.toHaveBeenCalled()
  })

  it('picks up a swap by polling "..data" when no change event arrives', async () => {
    const { volume, secrets } = await mounted(
      { JWT_SECRET: key(), DB_PASSWORD: key() },
      // A debounce far beyond the test: only the poll can deliver the change in time.
      { debounce: 60_000, pollInterval: 30 },
    )
    const next = key()
    await volume.write({ JWT_SECRET: next, DB_PASSWORD: key() })
    await waitFor(() => expect(secrets.JWT_SECRET.current()).toBe(next))
  })

  it('keeps the last good value when a rotated value fails the schema, and reports it without the value', async () => {
    const good = key()
    const { volume, secrets, errors } = await mounted({ JWT_SECRET: good, DB_PASSWORD: key() })
    await volume.write({ JWT_SECRET: 'too-short-value', DB_PASSWORD: key() })
    await waitFor(() => expect(errors).toHaveLength(1))
    expect(secrets.JWT_SECRET.current()).toBe(good)
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'secret_invalid' })
    expect(errors[0]?.message).toContain('"JWT_SECRET"')
    expect(errors[0]?.message).not.toContain('too-short-value')
    const fixed = key()
    await volume.write({ JWT_SECRET: fixed, DB_PASSWORD: key() })
    await waitFor(() => expect(secrets.JWT_SECRET.current()).toBe(fixed))
  })

  it('coalesces concurrent refreshes into one read', async () => {
    const volume = await SecretVolume.create({ JWT_SECRET: key(), DB_PASSWORD: key() })
    cleanup.push(() => volume.remove())
    const inner = files({ directory: volume.directory, pollInterval: 0 })
    let reads = 0
    const counting: SecretSource = {
      label: inner.label,
      read: (names) => {
        reads += 1
        return inner.read(names)
      },
      close: () => inner.close?.(),
    }
    const secrets = await loadSecrets({ schema, sources: [counting], watch: false })
    cleanup.push(() => secrets.close())
    reads = 0
    await Promise.all([secrets.forceRefresh(), secrets.forceRefresh(), secrets.forceRefresh()])
    // One read in flight, and one follow-up shared by the calls that arrived during it.
    expect(reads).toBe(2)
  })

  it('stops watching on close(), and keeps the values readable', async () => {
    const first = key()
    const { volume, secrets } = await mounted({ JWT_SECRET: first, DB_PASSWORD: key() }, { pollInterval: 20 })
    const rotated = vi.fn()
    secrets.onRotate('JWT_SECRET', rotated)
    await secrets.close()
    await volume.write({ JWT_SECRET: key(), DB_PASSWORD: key() })
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(secrets.JWT_SECRET.current()).toBe(first)
    expect(rotated).not.toHaveBeenCalled()
    await expect(secrets.forceRefresh()).rejects.toThrow('the secrets are closed')
  })

  it('reports a failing onRotate listener and stops calling a removed one', async () => {
    const { volume, secrets, errors } = await mounted({ JWT_SECRET: key(), DB_PASSWORD: key() })
    const removed = vi.fn()
    const unsubscribe = secrets.onRotate('JWT_SECRET', removed)
    unsubscribe()
    secrets.onRotate('JWT_SECRET', () => {
      throw new Error('listener bug')
    })
    const next = key()
    await volume.write({ JWT_SECRET: next, DB_PASSWORD: key() })
    await waitFor(() => expect(errors).toHaveLength(1))
    expect(errors[0]?.message).toBe('an "onRotate" listener of "JWT_SECRET" failed (Error)')
    expect(secrets.JWT_SECRET.current()).toBe(next)
    expect(removed).not.toHaveBeenCalled()
  })

  it('rejects option mistakes with a TypeError naming the option', () => {
    expect(() => files({ directory: '' })).toThrow(
      new TypeError('files: "directory" option must be a non-empty string'),
    )
    expect(() => files({ directory: '/x', debounce: -1 })).toThrow(
      new TypeError(
        'files: "debounce" option must be a non-negative integer number of milliseconds, at most 2147483647',
      ),
    )
  })

  it('refuses a poll interval past the longest timer delay, which Node would fire in a loop (issue 13)', () => {
    expect(() => files({ directory: '/x', pollInterval: 2 ** 31 })).toThrow(
      /^files: "pollInterval" option must be a non-negative integer number of milliseconds, at most 2147483647$/,
    )
    expect(() => files({ directory: '/x', pollInterval: 2 ** 31 - 1 })).not.toThrow()
  })
})

describe('rotation reaches another layer', () => {
  const issuer = 'https://idp.example.com/'
  const audience = 'api://orders'
  const request = (token: string): RequestLike => ({
    method: 'GET',
    origin: 'https://api.example.com',
    target: '/orders',
    path: '/orders',
    headerValues: (name) => (name.toLowerCase() === 'authorization' ? [`Bearer ${token}`] : []),
  })
  const hs256 = (secret: string, sub: string) =>
    new SignJWT({ sub })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti(key())
      .sign(new TextEncoder().encode(secret))

  it('jwtBearer with "secret: () => current()" verifies with a rotated file secret without restart', async () => {
    const first = key()
    const { volume, secrets } = await mounted({ JWT_SECRET: first, DB_PASSWORD: key() })
    const tokens = jwtBearer({
      issuer,
      audience,
      algorithms: ['HS256'],
      typ: false,
      requiredClaims: ['iss', 'aud', 'exp', 'sub'],
      cache: false,
      secret: () => secrets.JWT_SECRET.current(),
    })
    expect((await tokens.verify(await hs256(first, 'alice'))).subject).toBe('alice')

    const second = key()
    await volume.write({ JWT_SECRET: second, DB_PASSWORD: key() })
    await waitFor(() => expect(secrets.JWT_SECRET.current()).toBe(second))

    expect((await tokens.authenticate(request(await hs256(second, 'bob')))).subject).toBe('bob')
    await expect(tokens.verify(await hs256(first, 'mallory'))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'signature',
    })
  })
})
