import { EmbeddedJWK, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { createDpopProof } from './dpop-proof.js'
import { generateSigningKey } from './keys.js'

describe('createDpopProof', () => {
  it('makes an RFC 9449 proof with the bare public key in its header', async () => {
    const key = await generateSigningKey('ES256')
    const proof = await createDpopProof(key, {
      method: 'GET',
      url: 'http://127.0.0.1:9/orders?page=2#top',
      accessToken: 'token',
      nonce: 'n-1',
    })
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' })
    expect(protectedHeader.alg).toBe('ES256')
    expect(protectedHeader.jwk).not.toHaveProperty('kid')
    expect(protectedHeader.jwk).not.toHaveProperty('d')
    expect(payload).toMatchObject({
      htm: 'GET',
      htu: 'http://127.0.0.1:9/orders',
      nonce: 'n-1',
      jti: expect.any(String),
      iat: expect.any(Number),
      // base64url(SHA-256("token"))
      ath: 'PEaenWxYddN6Q_NT1PiOYfz4EsZu7jRXRlpAsNpBU-A',
    })
  })
})
