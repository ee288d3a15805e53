import { createHmac } from 'node:crypto'
import type { RequestLike } from '@zerotrust/core'
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose'

export const issuer = 'https://idp.example.com/'
export const audience = 'api://orders'

export interface TestKey {
  readonly alg: string
  readonly kid: string
  readonly privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']
  readonly publicJwk: JWK
  readonly publicPem: string
}

export async function testKey(
  alg: string,
  kid = `${alg}-${Math.random().toString(36).slice(2, 8)}`,
): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { alg, kid, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) }
}

/** RFC 9068-shaped claims, valid for an hour. */
export function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: issuer,
    aud: audience,
    sub: 'alice',
    client_id: 'web-app',
    iat: now,
    exp: now + 3600,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    scope: 'orders:read',
    ...overrides,
  }
}

export function sign(
  key: TestKey,
  payload: JWTPayload = claims(),
  header: Record<string, unknown> = {},
  crit?: Record<string, boolean>,
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey, crit === undefined ? undefined : { crit })
}

/** A correctly signed compact JWS whose payload is any bytes (not necessarily a JSON object). */
export function signBytes(key: TestKey, payload: string): Promise<string> {
  return new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .sign(key.privateKey)
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A token whose header and payload are written by hand, with an HMAC signature by `secret`. */
export function hmacToken(
  header: Record<string, unknown>,
  payload: JWTPayload,
  secret: string | Buffer,
): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

/** An unsecured JWT (`alg: none`): header, payload and an empty signature. */
export function unsecuredToken(payload: JWTPayload): string {
  return `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(payload)}.`
}

export function bearer(token: string, init: { target?: string; extra?: string[] } = {}): RequestLike {
  return headers({ authorization: [`Bearer ${token}`, ...(init.extra ?? [])] }, init.target)
}

export function headers(values: Record<string, string[]>, target = '/orders'): RequestLike {
  const q = target.indexOf('?')
  return {
    method: 'GET',
    origin: undefined,
    target,
    path: q === -1 ? target : target.slice(0, q),
    headerValues: (name) => values[name.toLowerCase()] ?? [],
  }
}
