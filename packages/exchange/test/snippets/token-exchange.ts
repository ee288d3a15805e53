import { tokenExchange } from '@zerotrust/exchange'
import { files, loadSecrets } from '@zerotrust/secrets'
import { ClientSecretBasic } from 'oauth4webapi'
import { z } from 'zod'

const secrets = await loadSecrets({
  schema: z.object({ EDGE_CLIENT_SECRET: z.string().min(16) }),
  sources: [files({ directory: '/var/run/secrets/edge' })],
})

const exchange = tokenExchange({
  issuer: 'https://idp.example.com/',
  clientId: 'edge',
  auth: ClientSecretBasic(secrets.EDGE_CLIENT_SECRET.current()),
})

export async function ordersToken(userToken: string): Promise<string> {
  // Cached per (user token, audience, scope) until 10 s before it expires; one request for concurrent
  // callers; a 503 ZeroTrustError (exchange_unavailable, with Retry-After) when the server is down.
  const token = await exchange.exchange(userToken, { resource: 'api://orders', scope: 'orders:read' })
  return token.value
}
