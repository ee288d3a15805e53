// A stand-in for Vault's database secrets engine with its PostgreSQL plugin, written from Vault's API
// documentation, because no Vault server can be installed where these tests run. It plugs into
// test/fake-vault.ts (a real HTTP server on 127.0.0.1, with its token and Kubernetes auth) and does what
// Vault does, against the real PostgreSQL on 127.0.0.1:5432:
//   GET /v1/<mount>/creds/<role>  runs the role's creation statements (`CREATE ROLE "{{name}}" WITH LOGIN
//                                 PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`, grants) and
//                                 answers the username, password and a lease
//   PUT /v1/sys/leases/renew      `ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}'`, the lease capped
//                                 by the role's max_ttl (with Vault's warning when it is)
//   PUT /v1/sys/leases/revoke     ends the role's sessions and drops it (`DROP OWNED BY`, `DROP ROLE`)
// and, as Vault's expiration manager does, revokes a lease when it runs out.
//   developer.hashicorp.com/vault/api-docs/secret/databases
//   developer.hashicorp.com/vault/api-docs/system/leases
//   developer.hashicorp.com/vault/docs/secrets/databases/postgresql
import { randomBytes, randomUUID } from 'node:crypto'
import pg from 'pg'
import type { EngineReply, EngineRequest, FakeVault } from './fake-vault.js'

/** A role of the engine: how long its leases live and what creates its database role. */
export interface DatabaseRole {
  /** Seconds of each lease, and of a renewal that asks for no increment. */
  readonly defaultTtl: number
  /** Seconds a lease may live in all, from its issue, whatever the renewals ask. */
  readonly maxTtl: number
  /** Statements with `{{name}}`, `{{password}}` and `{{expiration}}`, as Vault's `creation_statements`. */
  readonly creationStatements: readonly string[]
}

/** What the engine did, for tests to check. Lease IDs and passwords stay in the engine. */
export interface LeaseEvent {
  readonly kind: 'issue' | 'renew' | 'revoke' | 'expire'
  readonly leaseId: string
  readonly username: string
  /** When it happened (`Date.now()`). */
  readonly at: number
  /** For a renewal: when the lease was to end before it, and the TTL granted (seconds). */
  readonly expiredAt?: number
  readonly ttl?: number
  /** For a revocation: how many sessions of the role were still open and were ended. */
  readonly terminated?: number
}

interface LeaseRecord {
  readonly id: string
  readonly role: string
  readonly username: string
  readonly issuedAt: number
  expiresAt: number
  timer: NodeJS.Timeout | undefined
}

/** The database that tests and the engine use: trust authentication on loopback. */
export const database = {
  host: '127.0.0.1',
  port: 5432,
  database: 'test',
  user: process.env.PGUSER ?? 'postgres',
}

const vaultStatement = (role: string) => [
  `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
  `GRANT SELECT ON ${role} TO "{{name}}"`,
]

export class VaultDatabaseEngine {
  readonly roles = new Map<string, DatabaseRole>()
  readonly leases = new Map<string, LeaseRecord>()
  readonly events: LeaseEvent[] = []
  /** Every password and lease ID issued, so tests can prove none of them leaks. */
  readonly issued: string[] = []
  private readonly admin: pg.Client

  private constructor(
    admin: pg.Client,
    readonly mount: string,
  ) {
    this.admin = admin
  }

  /** Connects to the database as its administrator and serves `/v1/<mount>/…` on `vault`. */
  static async start(vault: FakeVault, mount = 'database'): Promise<VaultDatabaseEngine> {
    const admin = new pg.Client(database)
    await admin.connect()
    const engine = new VaultDatabaseEngine(admin, mount)
    vault.engines.push((request) => engine.handle(request))
    return engine
  }

  /** Adds a role whose credentials may read `table` (Vault's usual creation statements). */
  role(name: string, ttl: { defaultTtl: number; maxTtl: number }, table: string): void {
    this.roles.set(name, { ...ttl, creationStatements: vaultStatement(table) })
  }

  /** The events of one kind, in order. */
  eventsOf(kind: LeaseEvent['kind']): LeaseEvent[] {
    return this.events.filter((event) => event.kind === kind)
  }

  /** Revokes a lease outside the client, as an operator's `vault lease revoke` does. */
  async revokeByUsername(username: string): Promise<void> {
    const lease = [...this.leases.values()].find((l) => l.username === username)
    if (lease !== undefined) await this.revoke(lease, 'revoke')
  }

  /** Revokes every lease left (their roles dropped) and disconnects. */
  async close(): Promise<void> {
    for (const lease of [...this.leases.values()]) await this.revoke(lease, 'revoke')
    await this.admin.end()
  }

  private async handle(request: EngineRequest): Promise<EngineReply | undefined> {
    const creds = new RegExp(`^/v1/${this.mount}/creds/([^/]+)$`).exec(request.path)
    if (request.method === 'GET' && creds !== null) return this.issue(creds[1] as string)
    if (request.method !== 'PUT' && request.method !== 'POST') return undefined
    if (request.path === '/v1/sys/leases/renew') return this.renew(request.body)
    if (request.path === '/v1/sys/leases/revoke') {
      const lease = this.leases.get(String(request.body.lease_id))
      if (lease !== undefined) await this.revoke(lease, 'revoke')
      return { status: 204 }
    }
    return undefined
  }

  private async issue(roleName: string): Promise<EngineReply> {
    const role = this.roles.get(roleName)
    if (role === undefined) return { status: 400, body: { errors: [`unknown role: ${roleName}`] } }
    const now = Date.now()
    const ttl = Math.min(role.defaultTtl, role.maxTtl)
    // Vault's default username template for PostgreSQL: v-{{display_name}}-{{role}}-{{random 20}}-{{unix}}.
    const username = `v-token-${roleName}-${randomBytes(10).toString('hex')}-${Math.floor(now / 1000)}`.slice(
      0,
      63,
    )
    const password = randomBytes(24).toString('base64url')
    const lease: LeaseRecord = {
      id: `${this.mount}/creds/${roleName}/${randomUUID()}`,
      role: roleName,
      username,
      issuedAt: now,
      expiresAt: now + ttl * 1000,
      timer: undefined,
    }
    this.issued.push(password, lease.id)
    for (const statement of role.creationStatements) {
      await this.admin.query(
        statement
          .replaceAll('{{name}}', username)
          .replaceAll('{{password}}', password)
          .replaceAll('{{expiration}}', new Date(lease.expiresAt).toISOString()),
      )
    }
    this.leases.set(lease.id, lease)
    this.expireAt(lease)
    this.events.push({ kind: 'issue', leaseId: lease.id, username, at: now })
    return {
      status: 200,
      body: {
        request_id: randomUUID(),
        lease_id: lease.id,
        renewable: true,
        lease_duration: ttl,
        data: { username, password },
        wrap_info: null,
        warnings: null,
        auth: null,
      },
    }
  }

  private async renew(body: Record<string, unknown>): Promise<EngineReply> {
    const lease = this.leases.get(String(body.lease_id))
    if (lease === undefined) return { status: 400, body: { errors: ['lease not found'] } }
    const role = this.roles.get(lease.role) as DatabaseRole
    const now = Date.now()
    const asked = typeof body.increment === 'number' && body.increment > 0 ? body.increment : role.defaultTtl
    const left = Math.floor((lease.issuedAt + role.maxTtl * 1000 - now) / 1000)
    if (left <= 0) return { status: 400, body: { errors: ['lease expired'] } }
    const ttl = Math.min(asked, left)
    const expiredAt = lease.expiresAt
    lease.expiresAt = now + ttl * 1000
    await this.admin.query(
      `ALTER ROLE "${lease.username}" VALID UNTIL '${new Date(lease.expiresAt).toISOString()}'`,
    )
    this.expireAt(lease)
    this.events.push({ kind: 'renew', leaseId: lease.id, username: lease.username, at: now, expiredAt, ttl })
    const capped = ttl < asked
    return {
      status: 200,
      body: {
        lease_id: lease.id,
        renewable: true,
        lease_duration: ttl,
        data: null,
        warnings: capped
          ? [
              `TTL of "${asked}s" exceeded the effective max_ttl of "${left}s"; TTL value is capped accordingly`,
            ]
          : null,
      },
    }
  }

  private expireAt(lease: LeaseRecord): void {
    if (lease.timer !== undefined) clearTimeout(lease.timer)
    lease.timer = setTimeout(
      () => {
        lease.timer = undefined
        this.revoke(lease, 'expire').catch(() => {})
      },
      Math.max(0, lease.expiresAt - Date.now()),
    )
    lease.timer.unref()
  }

  private async revoke(lease: LeaseRecord, kind: 'revoke' | 'expire'): Promise<void> {
    if (!this.leases.delete(lease.id)) return
    if (lease.timer !== undefined) clearTimeout(lease.timer)
    const ended = await this.admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1',
      [lease.username],
    )
    await this.admin.query(`DROP OWNED BY "${lease.username}"`)
    await this.admin.query(`DROP ROLE IF EXISTS "${lease.username}"`)
    this.events.push({
      kind,
      leaseId: lease.id,
      username: lease.username,
      at: Date.now(),
      terminated: ended.rowCount ?? 0,
    })
  }
}
