import { type Authenticator, anyOf } from '@zerotrust/core'
import { introspection } from '@zerotrust/introspection'
import { jwtBearer } from '@zerotrust/jwt'
import {
  generateSigningKey,
  type JwksServer,
  signAccessToken,
  startAuthorizationServer,
  startJwksServer,
  toJwks,
} from '@zerotrust/testkit'
import type { AuthenticatorKind, Fixtures } from '../src/scenarios.js'

export const audience = 'api://orders'

/** Starts the identity providers the scenarios need (one up, one down, one for opaque tokens) and the tokens. */
export async function startFixtures(): Promise<Fixtures & { close(): Promise<void> }> {
  const key = await generateSigningKey('ES256', 'issuer-key')
  const forger = await generateSigningKey('ES256', 'issuer-key')
  const up: JwksServer = await startJwksServer(toJwks(key))
  const down: JwksServer = await startJwksServer(toJwks(key))
  down.down(true)
  // A real authorization server for opaque tokens, introspected (RFC 7662).
  const as = await startAuthorizationServer({
    resources: [{ indicator: audience, scope: 'orders:read orders:write', format: 'opaque' }],
    clients: [{ clientId: 'orders-api' }],
  })
  const client = as.clients[0]
  if (client === undefined) throw new Error('the authorization server has no client')

  const claims = (issuer: string, extra: Record<string, unknown>) => ({
    iss: issuer,
    aud: audience,
    sub: 'alice',
    client_id: 'web-app',
    scope: 'orders:read',
    ...extra,
  })
  const authenticator = (kind: AuthenticatorKind): Authenticator => {
    switch (kind) {
      case 'issuer':
        return jwtBearer({ issuer: up.issuer, audience, algorithms: ['ES256'] })
      case 'issuer-down':
        return jwtBearer({ issuer: down.issuer, audience, algorithms: ['ES256'] })
      case 'jwt-or-opaque':
        return anyOf(
          jwtBearer({ issuer: up.issuer, audience, algorithms: ['ES256'] }),
          introspection({
            issuer: as.issuer,
            audience,
            clientId: client.clientId,
            clientAuthentication: { method: 'client_secret_basic', secret: client.clientSecret },
          }),
        )
      case 'broken':
        return {
          layer: 'broken',
          authenticate: async () => {
            throw new Error('secret-detail: the database password is hunter2')
          },
        }
      case 'broken-sync':
        // Authenticators may answer without a promise (issue 14); one that throws must still be caught.
        return {
          layer: 'broken-sync',
          authenticate: () => {
            throw new Error('secret-detail: the database password is hunter2')
          },
        }
    }
  }

  return {
    issuer: up.issuer,
    authenticator,
    token: (extra = {}) => signAccessToken(key, claims(up.issuer, extra)),
    forgedToken: () => signAccessToken(forger, claims(up.issuer, {})),
    opaqueIssuer: as.issuer,
    opaqueToken: async (scope = 'orders:read') =>
      (await as.token({ scope, resource: audience, format: 'opaque' })).accessToken,
    close: async () => {
      await Promise.all([up.close(), down.close(), as.close()])
    },
  }
}
