import { describe, expect, it } from 'vitest'
import { generateSigningKey, jwkThumbprint, toJwks } from './keys.js'

describe('generateSigningKey', () => {
  it.each(['ES256', 'RS256', 'PS256', 'EdDSA'] as const)('makes a %s key with a kid', async (alg) => {
    const key = await generateSigningKey(alg)
    expect(key.kid).toBe(await jwkThumbprint(key))
    expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, use: 'sig' })
    expect(key.publicJwk).not.toHaveProperty('d')
    expect(key.privateJwk).toMatchObject({ kid: key.kid, alg, use: 'sig', d: expect.any(String) })
  })

  it('takes a chosen kid', async () => {
    expect((await generateSigningKey('ES256', 'k1')).kid).toBe('k1')
  })

  it('rejects an algorithm it does not support', async () => {
    await expect(generateSigningKey('HS256' as 'ES256')).rejects.toThrow(TypeError)
  })
})

describe('toJwks', () => {
  it('publishes only the public halves', async () => {
    const [a, b] = await Promise.all([generateSigningKey('ES256'), generateSigningKey('RS256')])
    const jwks = toJwks(a, b)
    expect(jwks.keys.map((key) => key.kid)).toEqual([a.kid, b.kid])
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d')
  })
})
