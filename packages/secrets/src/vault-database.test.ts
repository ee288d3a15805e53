// The Vault side of vaultDatabase, over HTTP: test/fake-vault.ts (a local node:http server on
// 127.0.0.1 that implements the documented Vault calls) with a database engine written here that keeps
// its leases in memory and touches no database. test/vault-database.test.ts runs the same source
// against the real PostgreSQL.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { type EngineRequest, FakeVault } from '../test/fake-vault.js'
import {
  databaseCredentials,
  loadSecrets,
  SecretsLoadError,
  type VaultDatabaseOptions,
  vaultDatabase,
} from './index.js'

const token = 'hvs.static-root-token-0123456789'
const schema = z.object({ DB: databaseCredentials })

/** Vault's database engine in memory: leases of `ttl` seconds, `renewable` or not. */
class MemoryEngine {
  ttl = 30
  renewable = true
  /** What a creds read answers in `data`, when set (a malformed answer). */
  data: Record<string, unknown> | undefined
  readonly leases = new Map<string, string>()
  readonly requests: EngineRequest[] = []
  readonly issued: string[] = []

  readonly handle = async (request: EngineRequest) => {
    if (!request.path.startsWith('/v1/database/') && !request.path.startsWith('/v1/sys/leases/'))
      return undefined
    this.requests.push(request)
    if (request.method === 'GET' && request.path === '/v1/database/creds/orders-app') {
      const id = `database/creds/orders-app/${randomUUID()}`
      const username = `v-orders-app-${randomBytes(6).toString('hex')}`
      const password = randomBytes(24).toString('base64url')
      this.leases.set(id, username)
      this.issued.push(id, password)
      return {
        status: 200,
        body: {
          lease_id: id,
          lease_duration: this.ttl,
          renewable: this.renewable,
          data: this.data ?? { username, password },
        },
      }
    }
    const id = String(request.body.lease_id)
    if (request.path === '/v1/sys/leases/renew') {
      if (!this.leases.has(id)) return { status: 400, body: { errors: [`lease not found: ${id}`] } }
      return { status: 200, body: { lease_id: id, lease_duration: this.ttl, renewable: this.renewable } }
    }
    if (request.path === '/v1/sys/leases/revoke') {
      this.leases.delete(id)
      return { status: 204 }
    }
    return undefined
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length
  }
}

let server: FakeVault
let engine: MemoryEngine
const cleanup: (() => Promise<void>)[] = []
/** Unhandled rejections while a test runs: one would end a real process. */
const rejections: unknown[] = []
const onRejection = (reason: unknown) => rejections.push(reason)

beforeEach(async () => {
  process.on('unhandledRejection', onRejection)
  server = await new FakeVault().start()
  server.tokens.set(token, { ttl: 0, renewable: false })
  engine = new MemoryEngine()
  server.engines.push(engine.handle)
})
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
  await server.close()
  // Long enough for a stray rejection of the closed sources to surface.
  await new Promise((resolve) => setTimeout(resolve, 50))
  process.off('unhandledRejection', onRejection)
  expect(rejections.splice(0)).toEqual([])
})

type LoadOptions = Omit<Partial<VaultDatabaseOptions>, 'token'> & {
  readonly token?: VaultDatabaseOptions['token'] | undefined
}

async function load(options: LoadOptions = {}) {
  const errors: Error[] = []
  const secrets = await loadSecrets({
    schema,
    sources: [
      vaultDatabase({
        address: server.url,
        token,
        role: 'orders-app',
        name: 'DB',
        ...options,
      } as VaultDatabaseOptions),
    ],
    onError: (error) => errors.push(error),
  })
  cleanup.push(() => secrets.close())
  return { secrets, errors }
}

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5000, interval: 10 })

describe('vaultDatabase', () => {
  it('issues credentials with GET /v1/<mount>/creds/<role> and revokes their lease on close', async () => {
    const { secrets } = await load()
    const credentials = secrets.DB.current()
    expect(credentials.username).toMatch(/^v-orders-app-/)
    expect(engine.issued).toContain(credentials.password)
    const [read] = engine.requests
    expect(read).toMatchObject({ method: 'GET', path: '/v1/database/creds/orders-app' })
    expect(server.requests.find((r) => r.path === read?.path)?.token).toBe(token)

    await secrets.close()
    expect(engine.requests.at(-1)).toEqual({
      method: 'PUT',
      path: '/v1/sys/leases/revoke',
      body: { lease_id: engine.issued[0] },
    })
    expect(engine.leases.size).toBe(0)
  })

  it('reads from another mount, logged in with the Kubernetes service account', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'zerotrust-vault-db-'))
    cleanup.push(() => rm(directory, { recursive: true, force: true }))
    const jwtPath = join(directory, 'token')
    await writeFile(jwtPath, server.kubernetes.jwt)
    const other = vi.fn(engine.handle)
    server.engines.unshift(async (request) =>
      request.path.startsWith('/v1/team/postgres/')
        ? other({ ...request, path: request.path.replace('/v1/team/postgres/', '/v1/database/') })
        : undefined,
    )
    const { secrets } = await load({
      token: undefined,
      kubernetes: { role: 'orders', jwtPath },
      mount: 'team/postgres',
    })
    expect(secrets.DB.current().username).toMatch(/^v-orders-app-/)
    expect(server.count('POST', '/v1/auth/kubernetes/login')).toBe(1)
    const read = server.requests.find((r) => r.path === '/v1/team/postgres/creds/orders-app')
    expect(read?.token).toMatch(/^hvs\.k8s-/)
  })

  it('renews with the lease ID and increment, and replaces a lease that cannot be renewed', async () => {
    engine.ttl = 1
    const { secrets, errors } = await load({ incrementSeconds: 1, revokeGrace: 0 })
    const first = secrets.DB.current()
    await waitFor(() => expect(engine.count('/v1/sys/leases/renew')).toBeGreaterThanOrEqual(1))
    const renewal = engine.requests.find((r) => r.path === '/v1/sys/leases/renew')
    expect(renewal).toEqual({
      method: 'PUT',
      path: '/v1/sys/leases/renew',
      body: { lease_id: engine.issued[0], increment: 1 },
    })

    // Refused: the lease is gone (Vault answers 400, quoting the lease ID, which no error repeats).
    engine.leases.clear()
    const rotated = vi.fn()
    secrets.onRotate('DB', rotated)
    await waitFor(() => expect(rotated).toHaveBeenCalled())
    expect(secrets.DB.current().username).not.toBe(first.username)
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'lease_refused' })
    for (const error of errors) expect(inspect(error, { showHidden: true })).not.toContain(engine.issued[0])
  })

  it('issues new credentials at about two thirds of a lease that is not renewable, and revokes the old', async () => {
    engine.ttl = 1
    engine.renewable = false
    const { secrets } = await load({ revokeGrace: 0 })
    const first = secrets.DB.current()
    await waitFor(() => expect(secrets.DB.current().username).not.toBe(first.username))
    expect(engine.count('/v1/sys/leases/renew')).toBe(0)
    await waitFor(() => expect(engine.count('/v1/sys/leases/revoke')).toBeGreaterThanOrEqual(1))
    const revoked = engine.requests.find((r) => r.path === '/v1/sys/leases/revoke')
    expect(revoked?.body).toEqual({ lease_id: engine.issued[0] })
  })

  it('issues new credentials on forceRefresh()', async () => {
    const { secrets } = await load({ revokeGrace: 0 })
    const first = secrets.DB.current()
    await secrets.forceRefresh()
    expect(secrets.DB.current().username).not.toBe(first.username)
    expect(engine.count('/v1/database/creds/orders-app')).toBe(2)
  })

  it('fails startup with a SecretsLoadError naming the role, never a password or lease ID', async () => {
    server.down = 'sealed'
    const down = await load().catch((e: unknown) => e)
    expect(down).toBeInstanceOf(SecretsLoadError)
    expect(down).toMatchObject({
      missing: ['DB'],
      failed: [
        {
          source: 'vaultDatabase(database/creds/orders-app)',
          message: 'vault read of credentials "database/creds/orders-app" failed with HTTP status 503',
        },
      ],
    })

    // Credentials without a password: the lease is given back at once.
    server.down = undefined
    engine.data = { username: 'v-orders-app-x' }
    const malformed = await load().catch((e: unknown) => e)
    expect(malformed).toMatchObject({
      failed: [
        {
          source: 'vaultDatabase(database/creds/orders-app)',
          message: 'vault read of credentials "database/creds/orders-app" returned an unexpected document',
        },
      ],
    })
    expect(engine.count('/v1/sys/leases/revoke')).toBe(1)
    expect(engine.leases.size).toBe(0)
    for (const error of [down, malformed]) {
      const text = inspect(error, { showHidden: true, depth: 10 })
      for (const secret of engine.issued) expect(text).not.toContain(secret)
    }
  })

  it('issues nothing for a schema that does not name it', async () => {
    const secrets = await loadSecrets({
      schema: z.object({ OTHER: databaseCredentials.optional() }),
      sources: [vaultDatabase({ address: server.url, token, role: 'orders-app', name: 'DB' })],
    })
    cleanup.push(() => secrets.close())
    expect(secrets.OTHER.current()).toBeUndefined()
    expect(engine.requests).toEqual([])
  })

  it('rejects option mistakes with a TypeError naming the option', () => {
    const base = { address: 'https://vault.example.com', token: 't', role: 'orders-app', name: 'DB' }
    expect(() => vaultDatabase({ ...base, address: 'http://vault.example.com' })).toThrow(
      new TypeError('vaultDatabase: "address" option must be an https URL (plain http only on loopback)'),
    )
    expect(() => vaultDatabase({ ...base, role: '../sys/leases' })).toThrow(
      /^vaultDatabase: "role" option must be a Vault role name/,
    )
    expect(() => vaultDatabase({ ...base, name: '' })).toThrow(
      new TypeError('vaultDatabase: "name" option must be a non-empty string'),
    )
    expect(() => vaultDatabase({ ...base, incrementSeconds: 0 })).toThrow(
      /^vaultDatabase: "incrementSeconds" option must be a positive integer/,
    )
    expect(() => vaultDatabase({ ...base, revokeGrace: 2 ** 31 })).toThrow(
      /^vaultDatabase: "revokeGrace" option/,
    )
    expect(() => vaultDatabase({ ...base, kubernetes: { role: 'orders' } })).toThrow(
      new TypeError('vaultDatabase: "token" option must be set, or "kubernetes", but not both'),
    )
    expect(() => vaultDatabase({ ...base, path: 'orders' } as never)).toThrow(
      new TypeError('vaultDatabase: "path" option is not recognized'),
    )
  })
})
