// Dynamic database credentials against the real PostgreSQL on 127.0.0.1:5432. No Vault server can be
// installed where these tests run, so Vault is test/fake-vault.ts (a real HTTP server on 127.0.0.1)
// with test/vault-database-server.ts plugged in: a stand-in for Vault's database secrets engine, written
// from Vault's documentation, that does what Vault's PostgreSQL plugin does in the real database:
// credentials are `CREATE ROLE … LOGIN PASSWORD … VALID UNTIL …` with a GRANT, a renewal is
// `ALTER ROLE … VALID UNTIL`, capped by the role's max_ttl, and a revocation (or a lease running out)
// ends the role's sessions and drops it. The tests skip with a message when PostgreSQL is not reachable,
// except in CI, where they run.
//
// PostgreSQL here trusts loopback connections, so it does not check the password: a revoked login is
// refused because its role no longer exists (SQLSTATE 28000), as it would be under password
// authentication too.
import { setTimeout as sleep } from 'node:timers/promises'
import { format, inspect } from 'node:util'
import { skipWithoutPostgres } from '@zerotrust/testkit/postgres'
import pg from 'pg'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import {
  type DatabaseCredentials,
  databaseCredentials,
  loadSecrets,
  type Secrets,
  type VaultDatabaseOptions,
  vaultDatabase,
} from '../src/index.js'
import { type RotatingPool, rotatingPool } from '../src/pg.js'
import { FakeVault } from './fake-vault.js'
import { database, VaultDatabaseEngine } from './vault-database-server.js'

const skip = await skipWithoutPostgres()

const token = 'hvs.database-test-token-0123456789'
// One table per test process, so parallel runs on the same database do not meet.
const table = `zt_secrets_orders_${process.pid}`
const { user: _admin, ...server } = database
const schema = z.object({ DB: databaseCredentials })

let vault: FakeVault
let engine: VaultDatabaseEngine
let admin: pg.Client
const cleanup: (() => Promise<void>)[] = []
/** Every error any test was told about, and every password and lease ID issued: checked for leaks. */
const reported: Error[] = []
const issued: string[] = []
const rejections: unknown[] = []
const onRejection = (reason: unknown) => rejections.push(reason)

const waitFor = <T>(check: () => T | Promise<T>, timeout = 10_000) =>
  vi.waitFor(check, { timeout, interval: 20 })

async function load(
  ttl: { defaultTtl: number; maxTtl: number },
  options: Partial<VaultDatabaseOptions> = {},
) {
  engine.role('orders-app', ttl, table)
  const errors: Error[] = []
  const secrets = await loadSecrets({
    schema,
    sources: [
      vaultDatabase({
        address: vault.url,
        token,
        role: 'orders-app',
        name: 'DB',
        revokeGrace: 1000,
        ...options,
      }),
    ],
    onError: (error) => {
      errors.push(error)
      reported.push(error)
    },
  })
  cleanup.push(() => secrets.close())
  return { secrets, errors }
}

function pool(secrets: Secrets<{ DB: DatabaseCredentials }>): RotatingPool {
  const db = rotatingPool(secrets.DB, { ...server, max: 4, onError: (error) => reported.push(error) })
  // Cleanups run in reverse: the pool ends before the secrets close and revoke the lease.
  cleanup.push(() => db.end())
  return db
}

/** Logs in with `credentials` directly, as a new connection of any client would. */
async function login(credentials: DatabaseCredentials): Promise<string> {
  const client = new pg.Client({ ...server, user: credentials.username, password: credentials.password })
  await client.connect()
  try {
    const { rows } = await client.query<{ user: string }>('select current_user as user')
    return rows[0]?.user ?? ''
  } finally {
    await client.end()
  }
}

async function user(db: RotatingPool): Promise<string> {
  const { rows } = await db.query<{ user: string }>(`select current_user as user from ${table} limit 1`)
  return rows[0]?.user ?? ''
}

function thrown(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  return undefined
}

/** Everything a log line, an error report or a debugger could print of `value`. */
function renderings(value: unknown): string {
  const error = value as { stack?: unknown; cause?: unknown }
  return [
    String(value),
    JSON.stringify(value),
    inspect(value, { depth: 10, showHidden: true }),
    inspect(value, { depth: 10, customInspect: false }),
    typeof error?.stack === 'string' ? error.stack : '',
    inspect(error?.cause, { depth: 10, showHidden: true }),
  ].join('\n')
}

// Leases of a few seconds, renewed and rotated for real: tests of up to several seconds each.
describe.skipIf(skip)('vaultDatabase on PostgreSQL', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    process.on('unhandledRejection', onRejection)
    admin = new pg.Client(database)
    await admin.connect()
    await admin.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, item text)`)
    await admin.query(`INSERT INTO ${table} VALUES (1, 'book'), (2, 'pen') ON CONFLICT DO NOTHING`)
  })
  afterAll(async () => {
    process.off('unhandledRejection', onRejection)
    await admin?.query(`DROP TABLE IF EXISTS ${table}`)
    await admin?.end()
  })
  beforeEach(async () => {
    vault = await new FakeVault().start()
    vault.tokens.set(token, { ttl: 0, renewable: false })
    engine = await VaultDatabaseEngine.start(vault)
  })
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
    issued.push(...engine.issued)
    await engine.close()
    await vault.close()
    // Long enough for a stray rejection of the closed pools and sources to surface.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(rejections).toEqual([])
  })

  it('issues a login that reads what its role was granted, and renews its lease before it ends', async () => {
    const { secrets, errors } = await load({ defaultTtl: 3, maxTtl: 60 })
    const db = pool(secrets)
    const first = secrets.DB.current()
    expect(first.username).toMatch(/^v-token-orders-app-/)
    const { rows } = await db.query(`select current_user as user, count(*)::int as items from ${table}`)
    expect(rows[0]).toEqual({ user: first.username, items: 2 })

    await waitFor(() => expect(engine.eventsOf('renew').length).toBeGreaterThanOrEqual(3), 20_000)
    const [issue] = engine.eventsOf('issue')
    expect(engine.eventsOf('issue')).toHaveLength(1)
    let from = issue?.at ?? 0
    let ttl = 3
    for (const renewal of engine.eventsOf('renew').slice(0, 3)) {
      expect(renewal.username).toBe(first.username)
      // Before the lease ended, and (timers never fire early) not before about two thirds of it.
      expect(renewal.at).toBeLessThan(renewal.expiredAt ?? 0)
      expect((renewal.at - from) / (ttl * 1000)).toBeGreaterThanOrEqual(0.55)
      from = renewal.at
      ttl = renewal.ttl ?? 0
    }
    // The same login all along, and PostgreSQL holds the renewed expiry.
    expect(secrets.DB.current()).toBe(first)
    expect(await user(db)).toBe(first.username)
    const role = await admin.query<{ until: Date }>(
      'select rolvaliduntil as until from pg_roles where rolname = $1',
      [first.username],
    )
    expect(role.rows[0]?.until.getTime()).toBeGreaterThan(Date.now())
    expect(errors).toEqual([])
  })

  it('serves queries without one failing while the credentials rotate three times at max_ttl', async () => {
    // A 3 s lease that may live 4 s in all: the renewal at about 2 s is granted 1 or 2 s, less than
    // asked, so new credentials are issued then, and the old lease ends a second or two later.
    const { secrets, errors } = await load({ defaultTtl: 3, maxTtl: 4 }, { revokeGrace: 1000 })
    const db = pool(secrets)
    const rotations = () => engine.eventsOf('issue').length - 1
    const users = new Set<string>()
    const failures: unknown[] = []
    let queries = 0
    // Bounded in time and in count, whatever happens.
    const deadline = Date.now() + 40_000
    const worker = async () => {
      // Until queries have run as the first login and three new ones. A short pause between queries
      // keeps the count bound far from reach on a fast machine (it ended the loop before the third
      // rotation once) while each login still serves hundreds of queries.
      while (users.size < 4 && Date.now() < deadline && queries < 100_000) {
        try {
          users.add(await user(db))
          queries += 1
        } catch (error) {
          failures.push(error)
        }
        await sleep(2)
      }
    }
    // A transaction that spans a rotation: the old pool waits for its client before it closes.
    const transaction = async () => {
      const client = await db.connect()
      try {
        await client.query('begin')
        const before = (await client.query<{ user: string }>('select current_user as user')).rows[0]?.user
        await waitFor(() => expect(secrets.DB.current().username).not.toBe(before), 20_000)
        const after = await client.query<{ user: string; items: number }>(
          `select current_user as user, count(*)::int as items from ${table}`,
        )
        expect(after.rows[0]).toEqual({ user: before, items: 2 })
        await client.query('commit')
      } finally {
        client.release()
      }
    }
    await Promise.all([worker(), worker(), worker(), transaction()])

    expect(failures).toEqual([])
    // New connections logged in with each new login.
    expect(users.size).toBe(4)
    expect(rotations()).toBeGreaterThanOrEqual(3)
    // Each replaced lease ended after its pool had drained and closed: revoked by the client after the
    // grace period (or, when less of it was left, run out at Vault), with no session left to end.
    const replaced = engine
      .eventsOf('issue')
      .slice(0, 3)
      .map((event) => event.username)
    const ended = () =>
      engine.events.filter(
        (e) => (e.kind === 'revoke' || e.kind === 'expire') && replaced.includes(e.username),
      )
    await waitFor(() => expect(ended()).toHaveLength(3))
    for (const end of ended()) expect(end.terminated).toBe(0)
    expect(errors).toEqual([])
  })

  it('revokes a replaced lease after the grace period and every lease on close: PostgreSQL refuses them', async () => {
    const { secrets } = await load({ defaultTtl: 30, maxTtl: 60 }, { revokeGrace: 200 })
    const first = secrets.DB.current()
    expect(await login(first)).toBe(first.username)

    await secrets.forceRefresh()
    const second = secrets.DB.current()
    expect(second.username).not.toBe(first.username)
    await waitFor(() => expect(engine.eventsOf('revoke').map((e) => e.username)).toContain(first.username))
    await expect(login(first)).rejects.toMatchObject({ code: '28000' })
    expect(await login(second)).toBe(second.username)

    await secrets.close()
    expect(engine.eventsOf('revoke').map((e) => e.username)).toEqual([first.username, second.username])
    await expect(login(second)).rejects.toMatchObject({ code: '28000' })
    const left = await admin.query('select 1 from pg_roles where rolname = any($1)', [
      [first.username, second.username],
    ])
    expect(left.rowCount).toBe(0)
  })

  it('keeps serving while Vault is down within the lease, and renews the same lease when it is back', async () => {
    const { secrets, errors } = await load({ defaultTtl: 6, maxTtl: 60 })
    const db = pool(secrets)
    const first = secrets.DB.current()
    // The outage's body quotes a password and a lease ID, to prove neither reaches an error.
    vault.down = `sealed; ${engine.issued.join(' ')}`
    await waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(1))
    expect(errors[0]).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'vault_unavailable',
    })
    expect(errors[0]?.message).toBe(
      'vault renewal of a lease of "database/creds/orders-app" failed with HTTP status 503',
    )
    for (let i = 0; i < 20; i++) expect(await user(db)).toBe(first.username)

    vault.down = undefined
    await waitFor(() => expect(engine.eventsOf('renew')).toHaveLength(1))
    expect(engine.eventsOf('renew')[0]?.username).toBe(first.username)
    expect(engine.eventsOf('issue')).toHaveLength(1)
    expect(secrets.DB.current()).toBe(first)
    expect(await user(db)).toBe(first.username)
  })

  it('answers 503 lease_expired once the lease ends while Vault is down, and recovers with new credentials', async () => {
    const { secrets, errors } = await load({ defaultTtl: 2, maxTtl: 60 })
    const db = pool(secrets)
    const first = secrets.DB.current()
    expect(await user(db)).toBe(first.username)
    vault.down = `sealed; ${engine.issued.join(' ')}`

    const expired = await waitFor(async () => {
      const error = await db.query('select 1').then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toMatchObject({ reason: 'lease_expired' })
      return error
    })
    expect(expired).toMatchObject({ code: 'dependency_unavailable', status: 503, reason: 'lease_expired' })
    expect(thrown(() => secrets.DB.current())).toBe(expired)
    await expect(db.connect()).rejects.toBe(expired)
    expect(errors.every((e) => (e as { reason?: string }).reason === 'vault_unavailable')).toBe(true)

    vault.down = undefined
    await waitFor(async () => expect(await user(db)).toBe(secrets.DB.current().username), 30_000)
    expect(secrets.DB.current().username).not.toBe(first.username)
  })

  it('issues new credentials when a renewal is refused (the lease was revoked behind its back)', async () => {
    const { secrets, errors } = await load({ defaultTtl: 3, maxTtl: 60 })
    const db = pool(secrets)
    const first = secrets.DB.current()
    const rotated = vi.fn()
    secrets.DB.onRotate(rotated)
    // As an operator's `vault lease revoke`: the role is dropped and its sessions ended.
    await engine.revokeByUsername(first.username)

    await waitFor(() => expect(rotated).toHaveBeenCalledOnce())
    expect(errors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'lease_refused' })
    expect(errors[0]?.message).toBe(
      'vault renewal of a lease of "database/creds/orders-app" failed with HTTP status 400',
    )
    const second = secrets.DB.current()
    expect(second.username).not.toBe(first.username)
    expect(await user(db)).toBe(second.username)
  })

  it('reports a checked-out connection the database ends, without an unhandled error event', async () => {
    const { secrets } = await load({ defaultTtl: 30, maxTtl: 60 })
    const poolErrors: Error[] = []
    const db = rotatingPool(secrets.DB, { ...server, max: 2, onError: (error) => poolErrors.push(error) })
    cleanup.push(() => db.end())
    const client = await db.connect()
    try {
      await client.query('select 1')
      // Ended while checked out and idle, as a revocation ends the sessions of its role.
      await engine.revokeByUsername(secrets.DB.current().username)
      await waitFor(() => expect(poolErrors.length).toBeGreaterThanOrEqual(1))
      expect(poolErrors[0]).toMatchObject({ code: 'dependency_unavailable', reason: 'database_connection' })
      expect(poolErrors[0]?.message).toBe('a checked-out database connection failed (57P01)')
      for (const error of poolErrors) expect(error).toMatchObject({ reason: 'database_connection' })
    } finally {
      client.release(true)
    }
  })

  it('never prints a password or a lease ID: errors, reports, logs and inspection', async () => {
    const { secrets, errors } = await load({ defaultTtl: 30, maxTtl: 60 })
    const db = pool(secrets)
    await secrets.forceRefresh()
    vault.down = `sealed; ${engine.issued.join(' ')}`
    const refused = await secrets.forceRefresh().catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: 'dependency_unavailable', reason: 'vault_unavailable' })
    const startup = await loadSecrets({
      schema,
      sources: [vaultDatabase({ address: vault.url, token, role: 'orders-app', name: 'DB' })],
    }).catch((e: unknown) => e)
    vault.down = undefined

    const credentials = secrets.DB.current()
    let logged = ''
    const logger = pino({ level: 'trace' }, { write: (chunk: string) => (logged += chunk) })
    logger.info({ credentials, secrets, db }, 'connected as %s', credentials)
    logger.error({ err: refused }, 'refresh failed')
    const printed = [
      logged,
      format('%s %o %O %j', credentials, credentials, secrets, credentials),
      `${credentials}`,
      renderings(credentials),
      renderings(secrets),
      renderings(db),
      renderings(refused),
      renderings(startup),
      ...[...errors, ...reported].map(renderings),
    ].join('\n')
    expect(printed).toContain(credentials.username)
    expect(printed).toContain('[redacted]')
    for (const secret of [...issued, ...engine.issued]) expect(printed).not.toContain(secret)
  })
})
