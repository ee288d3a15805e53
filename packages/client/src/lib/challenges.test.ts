import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { maxChallengeHeaderLength, parseChallenges } from './challenges.js'

describe('parseChallenges (RFC 9110 §11.6.1)', () => {
  it('reads several challenges, quoted values and escapes', () => {
    expect(
      parseChallenges(
        'DPoP error="use_dpop_nonce", algs="ES256 PS256", Bearer realm="api", error="invalid_token", error_description="a \\"quoted\\" word"',
      ),
    ).toEqual([
      { scheme: 'dpop', params: { error: 'use_dpop_nonce', algs: 'ES256 PS256' } },
      {
        scheme: 'bearer',
        params: { realm: 'api', error: 'invalid_token', error_description: 'a "quoted" word' },
      },
    ])
  })

  it('reads a scheme alone, a token68, token values and odd spacing', () => {
    expect(parseChallenges('Basic, Negotiate abc==,Bearer  realm = x ,error=invalid_token')).toEqual([
      { scheme: 'basic', params: {} },
      { scheme: 'negotiate', params: {} },
      { scheme: 'bearer', params: { realm: 'x', error: 'invalid_token' } },
    ])
  })

  it('keeps the first of a repeated parameter and stops at a malformed one', () => {
    expect(parseChallenges('Bearer error="a", error="b"')).toEqual([
      { scheme: 'bearer', params: { error: 'a' } },
    ])
    expect(parseChallenges('Bearer error="unterminated')).toEqual([{ scheme: 'bearer', params: {} }])
    expect(parseChallenges('"no scheme"')).toEqual([])
  })

  it('reads nothing of a header over the bound', () => {
    expect(parseChallenges(`Bearer realm="${'x'.repeat(maxChallengeHeaderLength)}"`)).toEqual([])
  })

  it('never throws and stays bounded on any input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        const challenges = parseChallenges(header)
        expect(challenges.length).toBeLessThanOrEqual(16)
        for (const challenge of challenges)
          expect(Object.keys(challenge.params).length).toBeLessThanOrEqual(32)
      }),
    )
  })
})
