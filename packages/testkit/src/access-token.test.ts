import { randomBytes } from 'node:crypto'
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { type SharedSecret, signAccessToken } from './access-token.js'
import { generateSigningKey, toJwks } from './keys.js'

describe('signAccessToken', () => {
  const claims = {
    iss: 'http://127.0.0.1:1',
    aud: 'api://orders',
    sub: 'svc',
    client_id: 'svc',
    scope: 'a b',
  }

  it('builds an at+jwt token with defaults for iat, exp and jti', async () => {
    const key = await generateSigningKey('ES256')
    const token = await signAccessToken(key, claims)
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
    const { payload } = await jwtVerify(token, createLocalJWKSet(toJwks(key)), { typ: 'at+jwt' })
    expect(payload).toMatchObject(claims)
    expect(payload.exp).toBe((payload.iat as number) + 300)
    expect(payload.jti).toEqual(expect.any(String))
  })

  it('overrides or removes claims and header parameters', async () => {
    const key = await generateSigningKey('ES256')
    const token = await signAccessToken(
      key,
      { ...claims, exp: 1, jti: undefined },
      { typ: 'JWT', kid: undefined },
    )
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'JWT' })
    const payload = decodeJwt(token)
    expect(payload.exp).toBe(1)
    expect(payload).not.toHaveProperty('jti')
  })

  it('signs with a shared secret', async () => {
    const secret: SharedSecret = { alg: 'HS256', secret: randomBytes(32) }
    const token = await signAccessToken(secret, claims)
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'at+jwt' })
    await expect(jwtVerify(token, secret.secret)).resolves.toBeDefined()
  })
})
