import { createTestCa, issueSvid } from '@zerotrust/testkit/ca'
import { describe, expect, it } from 'vitest'
import { clientSecretBasic, privateKeyJwt, tlsClientAuth } from '../client-auth.js'
import { clientCredentials } from '../client-credentials.js'
import { zeroTrustClient } from '../zero-trust-client.js'

// Option mistakes fail at construction, naming the factory and the option (issue 16).
function mistake(run: () => unknown): { message: string; cause: unknown } {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError)
    return { message: (error as Error).message, cause: (error as Error).cause }
  }
  throw new Error('expected a TypeError')
}

describe('zeroTrustClient options', () => {
  const base = { baseUrl: 'https://billing.internal:8443' }

  it.each([
    [{ baseUrl: 'http://billing.internal' }, 'zeroTrustClient: "baseUrl" option must be an https URL'],
    [
      { baseUrl: 'https://billing.internal/?a=1' },
      'zeroTrustClient: "baseUrl" option must be an https URL without query',
    ],
    [
      { ...base, expectPeer: 'spiffe://prod.example.com/a' },
      'zeroTrustClient: "tls" option must be given with "expectPeer"',
    ],
    [
      { ...base, retry: { attempts: 0 } },
      'zeroTrustClient: "retry.attempts" option must be a positive integer, at most 10',
    ],
    [{ ...base, retry: { attemps: 2 } }, 'zeroTrustClient: "retry.attemps" option is not recognized'],
    [{ ...base, timeout: -1 }, 'zeroTrustClient: "timeout" option must be a positive integer'],
    [{ ...base, tokens: { token: 'x' } }, 'zeroTrustClient: "tokens" option must be a token source'],
    [{ ...base, headers: { 'bad header': 'x' } }, 'zeroTrustClient: "headers" option must hold header names'],
    [{ ...base, onEvent: 'log' }, 'zeroTrustClient: "onEvent" option must be a function'],
    [{ ...base, tlss: {} }, 'zeroTrustClient: "tlss" option is not recognized'],
  ])('refuses %j', (options, message) => {
    expect(mistake(() => zeroTrustClient(options as never)).message.startsWith(message)).toBe(true)
  })

  it('requires expectPeer with tls, and SPIFFE IDs of workloads in it', async () => {
    const ca = await createTestCa({ trustDomain: 'prod.example.com' })
    const svid = await issueSvid(ca, { spiffeId: 'spiffe://prod.example.com/checkout' })
    const tls = {
      certificate: svid.chain,
      key: svid.key,
      bundle: svid.bundle,
      spiffeId: 'spiffe://prod.example.com/checkout',
    }
    expect(mistake(() => zeroTrustClient({ ...base, tls })).message).toMatch(
      /^zeroTrustClient: "expectPeer" option must be given/,
    )
    for (const expectPeer of [
      'spiffe://prod.example.com',
      'spiffe://Prod.example.com/a',
      'https://x/a',
      'spiffe://td/a/../b',
      [],
    ]) {
      expect(mistake(() => zeroTrustClient({ ...base, tls, expectPeer } as never)).message).toMatch(
        /^zeroTrustClient: "expectPeer(\.0)?" option must/,
      )
    }
    expect(
      mistake(() =>
        zeroTrustClient({ baseUrl: 'http://127.0.0.1:1', tls, expectPeer: 'spiffe://prod.example.com/a' }),
      ).message,
    ).toBe('zeroTrustClient: "baseUrl" option must be an https URL when "tls" is given')
  })

  it('refuses a DPoP key it cannot sign with, and dpop without tokens', async () => {
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    const tokens = {
      token: async () => ({ value: 'x', type: 'Bearer' as const, expiresAt: 0 }),
      invalidate() {},
    }
    expect(
      mistake(() =>
        zeroTrustClient({ ...base, tokens, dpop: { key: { privateKey: hmac, publicKey: hmac } } } as never),
      ).message,
    ).toMatch(/^zeroTrustClient: "dpop.key" option must be a WebCrypto key pair/)
    expect(mistake(() => zeroTrustClient({ ...base, dpop: { key: pair } })).message).toMatch(
      /^zeroTrustClient: "dpop" option needs "tokens"/,
    )
  })

  it('refuses a bad call before sending anything', async () => {
    const client = zeroTrustClient(base)
    await expect(client.fetch('https://evil.example/x')).rejects.toThrow(TypeError)
    await expect(client.fetch('//evil.example/x')).rejects.toThrow(TypeError)
    await expect(client.fetch('/x', { method: 'GE T' })).rejects.toThrow(
      'fetch: "method" option must be an HTTP method',
    )
    await expect(client.fetch('/x', { headers: { dpop: 'x' } })).rejects.toThrow(
      'fetch: "headers" option must not set "dpop"',
    )
    await expect(client.fetch('/x', { method: 'POST', idempotencyKey: 'é' })).rejects.toThrow(
      '"idempotencyKey" option',
    )
    await expect(client.fetch('/x', { body: 'x' })).rejects.toThrow(
      'fetch: "body" option must be absent for GET',
    )
    await expect(client.fetch('/x', { deadline: 'soon' as never })).rejects.toThrow(
      'fetch: "deadline" option',
    )
    await client.close()
  })
})

describe('clientCredentials options', () => {
  const base = {
    issuer: 'https://idp.example.com/',
    clientId: 'checkout',
    auth: clientSecretBasic('s3cret-value'),
  }

  it.each([
    [
      { ...base, issuer: 'http://idp.example.com/' },
      'clientCredentials: "issuer" option must be an https URL',
    ],
    [{ ...base, clientId: '' }, 'clientCredentials: "clientId" option must be a non-empty string'],
    [
      { ...base, auth: { method: 'client_secret_basic' } },
      'clientCredentials: "auth" option must be made by clientSecretBasic()',
    ],
    [{ ...base, auth: tlsClientAuth() }, 'clientCredentials: "tls" option must be given for tlsClientAuth()'],
    [
      { ...base, refreshBefore: 1.5 },
      'clientCredentials: "refreshBefore" option must be a non-negative integer',
    ],
    [{ ...base, scope: 'a"b' }, 'clientCredentials: "scope" option must hold scope tokens'],
  ])('refuses %j', (options, message) => {
    expect(mistake(() => clientCredentials(options as never)).message.startsWith(message)).toBe(true)
  })

  it('keeps the client secret and key out of sight', async () => {
    const auth = clientSecretBasic('s3cret-value')
    expect(JSON.stringify(auth)).toBe('{"method":"client_secret_basic"}')
    const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    expect(JSON.stringify(privateKeyJwt(privateKey))).toBe('{"method":"private_key_jwt"}')
    expect(() => privateKeyJwt('pem' as never)).toThrow('privateKeyJwt: "key" must be a private CryptoKey')
    expect(() => clientSecretBasic('')).toThrow('clientSecretBasic: "secret" must be a non-empty string')
  })
})
