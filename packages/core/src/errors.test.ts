import { describe, expect, it } from 'vitest'
import { ZeroTrustError } from './errors.js'
import { renderError } from './render-error.js'

describe('ZeroTrustError#with', () => {
  // Issue 13: one re-wrap for the layers that pass on an inner refusal under their own challenges.
  it('keeps code, status, message, reason, cause, scope, retry and headers, and takes the new challenges', () => {
    const cause = new Error('upstream')
    const original = new ZeroTrustError('invalid_token', 'the access token expired', {
      reason: 'expired',
      cause,
      challenges: [{ scheme: 'Bearer' }],
      scope: ['orders:read'],
      retryAfter: 3,
      headers: { 'DPoP-Nonce': 'n' },
    })
    const challenges = [{ scheme: 'DPoP', params: { algs: 'ES256' } }] as const
    const rewrapped = original.with({ challenges })

    expect(rewrapped).not.toBe(original)
    expect(rewrapped).toBeInstanceOf(ZeroTrustError)
    expect(rewrapped).toMatchObject({
      code: 'invalid_token',
      status: 401,
      message: 'the access token expired',
      reason: 'expired',
      cause,
      challenges,
      scope: ['orders:read'],
      retryAfter: 3,
      headers: { 'DPoP-Nonce': 'n' },
    })
    expect(original.challenges).toEqual([{ scheme: 'Bearer' }])
    const { status, headers } = renderError(rewrapped)
    expect(status).toBe(401)
    expect(headers['www-authenticate']).toMatch(/^DPoP error="invalid_token", .*algs="ES256"$/)
    expect(headers['retry-after']).toBe('3')
  })

  it('leaves absent fields absent', () => {
    const rewrapped = new ZeroTrustError('invalid_token', 'bad').with({ challenges: [] })
    expect(rewrapped.reason).toBeUndefined()
    expect(rewrapped.cause).toBeUndefined()
    expect('cause' in rewrapped).toBe(false)
    expect(rewrapped.retryAfter).toBeUndefined()
  })
})
