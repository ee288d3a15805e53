import { option, parseOptions } from '@zerotrust/core/layer'
import pg, {
  type Pool,
  type PoolClient,
  type PoolConfig,
  type QueryConfig,
  type QueryConfigValues,
  type QueryResult,
  type QueryResultRow,
} from 'pg'
import { z } from 'zod'
import type { DatabaseCredentials } from './database-credentials.js'
import { errorCode, sourceError } from './lib/errors.js'
import type { Secret } from './secret.js'

/** Options of `rotatingPool`: pg's pool options, less the login, which comes from the secret. */
export interface RotatingPoolOptions extends Omit<PoolConfig, 'user' | 'password' | 'connectionString'> {
  /**
   * Receives failures outside any request: an idle connection the database ended (as the revocation of
   * an old lease does) or a drained pool that failed to close. They name an error code, never a login.
   * By default they become process warnings.
   */
  readonly onError?: (error: Error) => void
}

/** A pg pool whose login follows a secret: `query()` and `connect()` as on `pg.Pool`. */
export interface RotatingPool {
  /** Runs one query on a pooled connection of the current credentials (pg's `pool.query`). */
  query<R extends QueryResultRow = QueryResultRow, I = unknown[]>(
    queryTextOrConfig: string | QueryConfig<I>,
    values?: QueryConfigValues<I>,
  ): Promise<QueryResult<R>>
  /** Checks out a connection of the current credentials; `release()` it as with pg. */
  connect(): Promise<PoolClient>
  /** Closes every pool once its connections are released, and stops following the secret. */
  end(): Promise<void>
}

/** One pool and the credentials it logs in with. */
interface Generation {
  readonly credentials: DatabaseCredentials
  readonly pool: Pool
  /** Queries running and clients checked out, or waiting for a connection. */
  inUse: number
  retired: boolean
  closing: boolean
  /** Settles once the pool has closed. */
  readonly closed: Promise<void>
  readonly settle: () => void
}

// What pg would take in place of the secret's login; a connection string's user would even win over it.
const loginSchema = z.undefined({ error: 'must not be set: the login comes from the secret' })

const rotatingPoolSchema = z.looseObject(
  {
    user: loginSchema.optional(),
    password: loginSchema.optional(),
    connectionString: loginSchema.optional(),
    onError: option.callable<(error: Error) => void>().optional(),
  },
  { error: 'must be an object' },
)

const warn = (error: Error) => process.emitWarning(error.message, { code: 'ZEROTRUST_SECRETS' })

/**
 * A `pg` pool that follows rotating database credentials (from `vaultDatabase`, or any secret of a
 * `username` and `password`) without dropping a request. When the secret rotates, a new pool logs in
 * with the new credentials and takes every new query and `connect()`; the old pool finishes what it
 * runs, waits for its checked-out clients to be released, and closes, before the old lease is revoked.
 * After the secret's lease has ended with no replacement, `query()` and `connect()` reject with the
 * secret's `ZeroTrustError` (`dependency_unavailable`, 503, reason `lease_expired`).
 *
 * Imported from `@zerotrust/secrets/pg`; `pg` is an optional peer dependency.
 *
 * @example
 * const db = rotatingPool(secrets.DB, { host: 'postgres', database: 'orders', max: 10 })
 * const { rows } = await db.query('select id from orders where owner = $1', [owner])
 * @see https://node-postgres.com/apis/pool
 */
export function rotatingPool(
  secret: Secret<DatabaseCredentials>,
  options: RotatingPoolOptions = {},
): RotatingPool {
  if (!isSecret(secret)) {
    throw new TypeError('rotatingPool: "secret" argument must be a Secret of database credentials')
  }
  const { onError, ...config } = parseOptions('rotatingPool', rotatingPoolSchema, options)
  const report = (error: Error) => {
    try {
      const result: unknown = (onError ?? warn)(error)
      if (result instanceof Promise) result.then(undefined, () => {})
    } catch {
      // A failing sink must not break the pool; there is nowhere else to report to.
    }
  }
  let active: Generation | undefined
  const generations = new Set<Generation>()
  let ended = false

  const open = (credentials: DatabaseCredentials): Generation => {
    const pool = new pg.Pool({
      ...(config as PoolConfig),
      user: credentials.username,
      password: credentials.password,
    })
    // Without a listener, an idle connection's error (the database ended it) would end the process.
    pool.on('error', (error) => {
      report(sourceError(`an idle database connection failed (${errorCode(error)})`, 'database_connection'))
    })
    let resolve = () => {}
    const promise = new Promise<void>((settle) => {
      resolve = settle
    })
    const generation: Generation = {
      credentials,
      pool,
      inUse: 0,
      retired: false,
      closing: false,
      closed: promise,
      settle: resolve,
    }
    generations.add(generation)
    return generation
  }

  const close = (generation: Generation) => {
    if (generation.closing) return
    generation.closing = true
    generation.pool
      .end()
      .catch((error: unknown) => {
        report(
          sourceError(`closing a drained database pool failed (${errorCode(error)})`, 'database_connection'),
        )
      })
      .finally(() => {
        generations.delete(generation)
        generation.settle()
      })
  }

  const release = (generation: Generation) => {
    generation.inUse -= 1
    if (generation.retired && generation.inUse === 0) close(generation)
  }

  /** The pool of the current credentials, opened when they rotated; throws once their lease ended. */
  const current = (): Generation => {
    if (ended) throw new Error('rotatingPool: the pool has ended')
    const credentials = secret.current()
    if (active !== undefined && active.credentials === credentials) return active
    const previous = active
    active = open(credentials)
    if (previous !== undefined) {
      // pg's end() would leave waiting requests queued forever: the old pool ends once it has none.
      previous.retired = true
      if (previous.inUse === 0) close(previous)
    }
    return active
  }

  // Rotate at once rather than at the next request, so idle connections of the old login close early.
  const unsubscribe = secret.onRotate(() => {
    try {
      current()
    } catch {
      // Past the lease, or ended: the next request gets the error.
    }
  })

  return {
    async query<R extends QueryResultRow, I>(
      queryTextOrConfig: string | QueryConfig<I>,
      values?: QueryConfigValues<I>,
    ): Promise<QueryResult<R>> {
      const generation = current()
      generation.inUse += 1
      try {
        return await generation.pool.query<R, I>(queryTextOrConfig, values)
      } finally {
        release(generation)
      }
    },
    async connect(): Promise<PoolClient> {
      const generation = current()
      generation.inUse += 1
      let client: PoolClient
      try {
        client = await generation.pool.connect()
      } catch (error) {
        release(generation)
        throw error
      }
      // pg emits a checked-out client's error with no query running (the database ended the session, as
      // a revocation does) as an event, which would end the process with no listener.
      const failed = (error: Error) => {
        report(
          sourceError(
            `a checked-out database connection failed (${errorCode(error)})`,
            'database_connection',
          ),
        )
      }
      client.on('error', failed)
      const give = client.release
      let released = false
      client.release = (error?: Error | boolean) => {
        if (!released) {
          released = true
          client.removeListener('error', failed)
          release(generation)
        }
        return give(error)
      }
      return client
    },
    async end(): Promise<void> {
      if (!ended) {
        ended = true
        unsubscribe()
        for (const generation of generations) {
          generation.retired = true
          if (generation.inUse === 0) close(generation)
        }
      }
      await Promise.all([...generations].map((generation) => generation.closed))
    },
  }
}

function isSecret(value: unknown): value is Secret<DatabaseCredentials> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { current?: unknown }).current === 'function' &&
    typeof (value as { onRotate?: unknown }).onRotate === 'function'
  )
}
