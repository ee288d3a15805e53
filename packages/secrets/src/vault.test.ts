// These tests run against test/fake-vault.ts, a local node:http server on 127.0.0.1 that implements the
// documented Vault HTTP API calls this package makes (KV v2 read, token lookup-self and renew-self,
// Kubernetes login). No Vault server can be installed where they run; the fake follows the API docs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { FakeVault } from '../test/fake-vault.js'
import { loadSecrets, SecretsLoadError, type VaultOptions, vault } from './index.js'

const rootToken = 'hvs.static-root-token-0123456789'
const password = 'vault-db-password-0123456789-abcdef'
const schema = z.object({ DB_PASSWORD: z.string().min(16), POOL_SIZE: z.coerce.number().int().optional() })

let server: FakeVault
let directory: string
const cleanup: (() => Promise<void>)[] = []

beforeEach(async () => {
  server = await new FakeVault().start()
  directory = await mkdtemp(join(tmpdir(), 'zerotrust-vault-'))
  server.tokens.set(rootToken, { ttl: 0, renewable: false })
  server.put('secret/orders/api', { DB_PASSWORD: password, POOL_SIZE: 10 })
})
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
  await server.close()
  await rm(directory, { recursive: true, force: true })
})

type LoadOptions = Omit<Partial<VaultOptions>, 'token'> & {
  readonly token?: VaultOptions['token'] | undefined
}

async function load(options: LoadOptions = {}, maxStaleness?: number) {
  const errors: Error[] = []
  const secrets = await loadSecrets({
    schema,
    sources: [
      vault({ address: server.url, token: rootToken, path: 'orders/api', ...options } as VaultOptions),
    ],
    onError: (error) => errors.push(error),
    ...(maxStaleness === undefined ? {} : { maxStaleness }),
  })
  cleanup.push(() => secrets.close())
  return { secrets, errors }
}

const waitFor = (check: () => void, timeout = 4000) => vi.waitFor(check, { timeout, interval: 10 })

describe('vault: KV v2', () => {
  it('reads GET /v1/<mount>/data/<path> with the token and namespace headers', async () => {
    server.namespace = 'team-a'
    const { secrets } = await load({ namespace: 'team-a' })
    expect(secrets.DB_PASSWORD.current()).toBe(password)
    expect(secrets.POOL_SIZE.current()).toBe(10)
    const read = server.requests.find((r) => r.path === '/v1/secret/data/orders/api')
    expect(read).toMatchObject({ method: 'GET', token: rootToken, namespace: 'team-a', search: '' })
  })

  it('reads a pinned version from another mount', async () => {
    server.put('kv/orders/api', { DB_PASSWORD: `${password}-v1` })
    server.put('kv/orders/api', { DB_PASSWORD: `${password}-v2` })
    const { secrets } = await load({ mount: 'kv', version: 1 })
    expect(secrets.DB_PASSWORD.current()).toBe(`${password}-v1`)
    expect(server.requests.at(-1)?.search).toBe('?version=1')
  })

  it('re-reads on its schedule and calls onRotate', async () => {
    const { secrets } = await load({ refreshInterval: 30 })
    const rotated = vi.fn()
    secrets.onRotate('DB_PASSWORD', rotated)
    server.put('secret/orders/api', { DB_PASSWORD: `${password}-rotated` })
    await waitFor(() => expect(secrets.DB_PASSWORD.current()).toBe(`${password}-rotated`))
    expect(rotated).toHaveBeenCalledOnce()
    expect(rotated).toHaveBeenCalledWith(secrets.DB_PASSWORD)
  })

  it('renews a renewable token at about two thirds of its TTL (lookup-self, then renew-self)', async () => {
    const token = 'hvs.periodic-token-0123456789'
    server.tokens.set(token, { ttl: 1, renewable: true })
    const started = Date.now()
    await load({ token, refreshInterval: 0 })
    await waitFor(() => expect(server.count('POST', '/v1/auth/token/renew-self')).toBe(1))
    expect(server.count('GET', '/v1/auth/token/lookup-self')).toBe(1)
    // Scheduled at 62–71% of the 1 s TTL after the lookup: renewed before the token expires.
    const renewal = server.requests.find((r) => r.path === '/v1/auth/token/renew-self')
    const elapsed = (renewal?.at ?? 0) - started
    expect(elapsed).toBeGreaterThanOrEqual(600)
    expect(elapsed).toBeLessThan(1000)
    // Renewed again about two thirds of the renewed TTL later.
    await waitFor(() => expect(server.count('POST', '/v1/auth/token/renew-self')).toBe(2))
  })

  it('logs in with Kubernetes auth, renews the token, and logs in again when it is refused', async () => {
    const jwtPath = join(directory, 'token')
    await writeFile(jwtPath, `${server.kubernetes.jwt}\n`)
    server.kubernetes.ttl = 1
    const { secrets } = await load({
      token: undefined,
      kubernetes: { role: 'orders', jwtPath },
      refreshInterval: 0,
    })
    expect(secrets.DB_PASSWORD.current()).toBe(password)
    expect(server.count('POST', '/v1/auth/kubernetes/login')).toBe(1)
    const minted = server.requests.find((r) => r.path === '/v1/secret/data/orders/api')?.token
    expect(minted).toMatch(/^hvs\.k8s-/)
    await waitFor(() => expect(server.count('POST', '/v1/auth/token/renew-self')).toBeGreaterThanOrEqual(1))

    server.tokens.clear() // revoked
    server.put('secret/orders/api', { DB_PASSWORD: `${password}-after-login` })
    await secrets.forceRefresh()
    expect(secrets.DB_PASSWORD.current()).toBe(`${password}-after-login`)
    expect(server.count('POST', '/v1/auth/kubernetes/login')).toBe(2)
  })

  it('rejects option mistakes with a TypeError naming the option', () => {
    expect(() => vault({ address: 'http://vault.example.com', token: 't', path: 'a' })).toThrow(
      new TypeError('vault: "address" option must be an https URL (plain http only on loopback)'),
    )
    expect(() => vault({ address: 'https://vault.example.com', path: 'a' })).toThrow(
      new TypeError('vault: "token" option must be set, or "kubernetes", but not both'),
    )
    expect(() =>
      vault({ address: 'https://vault.example.com', token: 't', kubernetes: { role: 'r' }, path: 'a' }),
    ).toThrow(/"token" option must be set, or "kubernetes", but not both/)
  })

  it('checks its options as every factory does (issue 13)', () => {
    const base = { address: 'https://vault.example.com', token: 't', path: 'a' }
    // Past the longest timer delay, Node would fire the re-read schedule at once, in a loop.
    expect(() => vault({ ...base, refreshInterval: 2 ** 31 })).toThrow(/^vault: "refreshInterval" option/)
    expect(() => vault({ ...base, timeout: 0 })).toThrow(
      /^vault: "timeout" option must be a positive integer/,
    )
    expect(() => vault({ ...base, kubernetes: 'orders' } as never)).toThrow(/^vault: "kubernetes" option/)
    expect(() => vault({ ...base, refresh: 1000 } as never)).toThrow(
      new TypeError('vault: "refresh" option is not recognized'),
    )
  })
})

describe('vault: outages', () => {
  // The sealed server's error body echoes the token and a value, to prove neither reaches an error.
  const sealed = () => `sealed; token ${rootToken}; value ${password}`
  const leaks = (error: unknown) => {
    const text = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack} ${String((error as Error).cause)}`
    return [rootToken, password, 'sealed'].filter((secret) => text.includes(secret))
  }

  it('serves the last good value within maxStaleness, then errors, then recovers', async () => {
    const { secrets, errors } = await load({ refreshInterval: 25 }, 400)
    server.down = sealed()
    await waitFor(() => expect(errors.length).toBeGreaterThan(0))
    expect(secrets.DB_PASSWORD.current()).toBe(password)
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'vault_unavailable' })
    expect(errors[0]?.message).toBe('vault read of "secret/orders/api" failed with HTTP status 503')
    await expect(secrets.forceRefresh()).rejects.toMatchObject({ code: 'dependency_unavailable' })

    await waitFor(() => expect(() => secrets.DB_PASSWORD.current()).toThrow(/is stale/))
    const stale = (() => {
      try {
        secrets.DB_PASSWORD.current()
      } catch (error) {
        return error
      }
    })()
    expect(stale).toMatchObject({ code: 'dependency_unavailable', status: 503, reason: 'secret_stale' })
    for (const error of [...errors, stale]) expect(leaks(error)).toEqual([])

    server.down = undefined
    await waitFor(() => expect(secrets.DB_PASSWORD.current()).toBe(password))
  })

  it('fails startup when Vault is down, naming the source but no token, body or value', async () => {
    server.down = sealed()
    const error = await load().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SecretsLoadError)
    expect(error).toMatchObject({
      missing: ['DB_PASSWORD'],
      failed: [{ source: 'vault(secret/orders/api)' }],
      sources: ['vault(secret/orders/api)'],
    })
    expect(leaks(error)).toEqual([])
  })

  it('reports an unreachable Vault by error code only', async () => {
    const address = server.url
    await server.close()
    server = await new FakeVault().start()
    const error = await loadSecrets({
      schema,
      sources: [vault({ address, token: rootToken, path: 'orders/api', timeout: 1000 })],
    }).catch((e: unknown) => e)
    expect((error as Error).message).toContain('vault read of "secret/orders/api" failed (ECONNREFUSED)')
    expect(leaks(error)).toEqual([])
  })
})
