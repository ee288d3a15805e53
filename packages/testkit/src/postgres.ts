// Helpers of the PostgreSQL-backed tests (`@zerotrust/testkit/postgres`, apart from the main entry as
// `@zerotrust/testkit/redis` is): where the shared PostgreSQL is, and a reachability probe that needs
// no client library.
import net from 'node:net'

/** The shared PostgreSQL every PostgreSQL-backed test uses (trust authentication on loopback). */
export const postgresHost = '127.0.0.1'
export const postgresPort = 5432

/**
 * Whether a PostgreSQL server answers on `port` within `ms`: it is sent an SSLRequest, to which a
 * server replies with one byte, `S` or `N`, before any authentication.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
 */
function probePostgres(port = postgresPort, ms = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: postgresHost, port })
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), ms)
    socket.on('connect', () => {
      // Length 8, then the SSLRequest code 80877103.
      const request = Buffer.alloc(8)
      request.writeInt32BE(8, 0)
      request.writeInt32BE(80877103, 4)
      socket.write(request)
    })
    socket.once('data', (chunk: Buffer) => {
      const reply = chunk.toString('latin1', 0, 1)
      done(reply === 'S' || reply === 'N')
    })
    socket.on('error', () => done(false))
  })
}

/**
 * Whether the PostgreSQL-backed tests skip: only outside CI, when PostgreSQL is not reachable (in CI
 * they run and fail). Prints why when they do.
 */
export async function skipWithoutPostgres(): Promise<boolean> {
  if (process.env.CI === 'true') return false
  if (await probePostgres()) return false
  console.warn(
    `postgresql is not reachable on ${postgresHost}:${postgresPort}: skipping the postgresql-backed tests`,
  )
  return true
}
