import type { Auth, RequestLike } from '@zerotrust/core'

/** A routed request view, as an adapter hands a route-level authorizer. */
export function routed(
  method: string,
  route: string,
  params: Record<string, string> = {},
  path = route.replace(/:(\w+)/g, (_, name: string) => params[name] ?? ''),
): RequestLike {
  return {
    method,
    origin: 'https://api.example.com',
    target: path,
    path,
    route,
    params: Object.freeze({ ...params }),
    headerValues: () => [],
  }
}

/** The `Auth` of a user's access token. */
export function userAuth(subject: string, scopes: string[] = [], clientId = 'web-app'): Auth {
  return {
    subject,
    issuer: 'https://idp.example.com/',
    audience: ['api://orders'],
    clientId,
    scopes,
    claims: { sub: subject, client_id: clientId },
    scheme: 'Bearer',
    format: 'jwt',
    expiresAt: undefined,
    cnf: undefined,
  }
}

/** The `Auth` of a client-credentials token: no user, or `sub` equal to the client id (RFC 9068 §2.2). */
export function clientAuth(clientId: string, subject?: string): Auth {
  return {
    subject,
    issuer: 'https://idp.example.com/',
    audience: ['api://orders'],
    clientId,
    scopes: ['charges:write'],
    claims: { client_id: clientId },
    scheme: 'DPoP',
    format: 'opaque',
    expiresAt: undefined,
    cnf: undefined,
  }
}
