import type { Authenticator } from '@zerotrust/core'
import { jwtBearer } from '@zerotrust/jwt'
import {
  generateSigningKey,
  type JwksServer,
  signAccessToken,
  startJwksServer,
  toJwks,
} from '@zerotrust/testkit'
import type { AuthenticatorKind, Fixtures } from './scenarios.js'

export const audience = 'api://orders'

/** Starts the identity providers the scenarios need (one up, one down) and prepares the tokens. */
export async function startFixtures(): Promise<Fixtures & { close(): Promise<void> }> {
  const key = await generateSigningKey('ES256', 'issuer-key')
  const forger = await generateSigningKey('ES256', 'issuer-key')
  const up: JwksServer = await startJwksServer(toJwks(key))
  const down: JwksServer = await startJwksServer(toJwks(key))
  down.down(true)

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
      case 'broken':
        return {
          layer: 'broken',
          authenticate: async () => {
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
    close: async () => {
      await Promise.all([up.close(), down.close()])
    },
  }
}
