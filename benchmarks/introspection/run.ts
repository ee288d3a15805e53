// Cost of one opaque-token authentication: a cache hit next to its floor (the SHA-256 of the token and a
// map lookup), and an uncached round trip to oidc-provider on loopback next to oauth4webapi alone.
//
// Run, after `pnpm build`: pnpm --filter @zerotrust/benchmarks bench:introspection. BENCH_TIME (ms per
// task) overrides the default. It lives here, not in packages/introspection, because it starts the
// testkit's authorization server.
import { hash } from 'node:crypto'
import { benchOptions, envInteger, report } from '@zerotrust/benchkit'
import type { RequestLike } from '@zerotrust/core'
import { introspection } from '@zerotrust/introspection'
import { startAuthorizationServer } from '@zerotrust/testkit'
import * as oauth from 'oauth4webapi'
import { Bench } from 'tinybench'

const time = envInteger('BENCH_TIME', 1000)
// A hit costs about as much as reading the clock, so it is also timed in batches of sequential awaits.
const batch = 100

function bearer(token: string): RequestLike {
  const values = { authorization: [`Bearer ${token}`] }
  return {
    method: 'GET',
    origin: undefined,
    target: '/orders',
    path: '/orders',
    headerValues: (name) => values[name as 'authorization'] ?? [],
  }
}

async function main(): Promise<void> {
  const as = await startAuthorizationServer({
    resources: [{ indicator: 'api://orders', scope: 'orders:read', format: 'opaque', accessTokenTtl: 3600 }],
  })
  try {
    const client = as.clients[0]
    if (client === undefined) throw new Error('no client')
    const { accessToken } = await as.token({ format: 'opaque' })
    const options = {
      issuer: as.issuer,
      audience: 'api://orders',
      introspectionEndpoint: as.introspectionEndpoint,
      clientId: client.clientId,
      clientAuthentication: { method: 'client_secret_basic', secret: client.clientSecret },
    } as const
    const cached = introspection(options)
    const uncached = introspection({ ...options, cache: false })
    const req = bearer(accessToken)
    await cached.authenticate(req)

    const floor = new Map([[hash('sha256', accessToken, 'base64url'), req]])
    const server: oauth.AuthorizationServer = {
      issuer: as.issuer,
      introspection_endpoint: as.introspectionEndpoint,
    }
    const auth = oauth.ClientSecretBasic(client.clientSecret)
    const once = async () => {
      const client_ = { client_id: client.clientId }
      const options = { [oauth.allowInsecureRequests]: true }
      const response = await oauth.introspectionRequest(server, client_, auth, accessToken, options)
      await oauth.processIntrospectionResponse(server, client_, response)
    }
    // Like the layer, send once more when a kept-alive connection is reset under the request (the
    // server closes connections idle for 5 s, which the cache-hit tasks before this one leave behind).
    const raw = () => once().catch(once)

    const bench = new Bench(benchOptions(time, { warmupTime: 300 }))
    bench
      .add('floor: sha-256 of the token + Map.get', () => floor.get(hash('sha256', accessToken, 'base64url')))
      .add('introspection authenticate, cache hit', () => cached.authenticate(req))
      .add(`introspection authenticate, cache hit (batches of ${batch})`, async () => {
        for (let i = 0; i < batch; i++) await cached.authenticate(req)
      })
      .add('oauth4webapi introspection alone, loopback oidc-provider', raw)
      .add('introspection authenticate, cache off, loopback oidc-provider', () => uncached.authenticate(req))
    await bench.run()

    report(bench, {
      baseline: 'floor: sha-256 of the token + Map.get',
      batches: { [`introspection authenticate, cache hit (batches of ${batch})`]: batch },
    })
  } finally {
    await as.close()
  }
}

await main()
