import { describe, expect, it } from 'vitest'
import { requestLike } from '../test/request-like.js'
import { readCredentials } from './credentials.js'

const options = {
  schemes: ['Bearer'] as const,
  maxTokenLength: 100,
  challenges: [{ scheme: 'Bearer' as const }],
}

describe('readCredentials', () => {
  it('reads a Bearer token', () => {
    expect(readCredentials(requestLike({ authorization: 'Bearer abc.def-_~+/=' }), options)).toEqual({
      scheme: 'Bearer',
      token: 'abc.def-_~+/=',
    })
  })

  it('accepts the scheme in any case (RFC 9110 §11.1: auth-schemes are case-insensitive)', () => {
    expect(readCredentials(requestLike({ authorization: 'bearer abc' }), options)?.scheme).toBe('Bearer')
    expect(readCredentials(requestLike({ authorization: 'BEARER abc' }), options)?.token).toBe('abc')
  })

  it('returns nothing without an Authorization header or with another scheme', () => {
    expect(readCredentials(requestLike(), options)).toBeUndefined()
    expect(readCredentials(requestLike({ authorization: 'Basic dXNlcjpwYXNz' }), options)).toBeUndefined()
  })

  it('rejects two Authorization headers as invalid_request', () => {
    const req = requestLike({ authorization: ['Bearer a', 'Bearer b'] })
    expect(() => readCredentials(req, options)).toThrow(
      expect.objectContaining({ code: 'invalid_request', reason: 'multiple_credentials', status: 400 }),
    )
  })

  it('rejects a header token plus a query token as invalid_request (RFC 6750 §2)', () => {
    const req = requestLike({ authorization: 'Bearer a' }, { target: '/orders?access_token=b' })
    expect(() => readCredentials(req, options)).toThrow(
      expect.objectContaining({ reason: 'multiple_credentials' }),
    )
  })

  it('refuses tokens in the query string', () => {
    const req = requestLike({}, { target: '/orders?x=1&access_token=b' })
    expect(() => readCredentials(req, options)).toThrow(
      expect.objectContaining({ code: 'invalid_request', reason: 'token_in_query' }),
    )
    expect(readCredentials(requestLike({}, { target: '/orders?my_access_token=b' }), options)).toBeUndefined()
  })

  // Issue 12: Express, Koa, Fastify and Hono decode `%61ccess_token` to `access_token`.
  it('refuses a query token whose parameter name is percent-encoded', () => {
    for (const query of [
      '%61ccess_token=b',
      'access%5Ftoken=b',
      'access%5ftoken',
      '%61%63%63%65%73%73%5F%74%6F%6B%65%6E=b',
      'x=1&%61ccess_token=b',
      'access_token[]=b',
      'access_token%5B0%5D=b',
    ]) {
      const req = requestLike({}, { target: `/orders?${query}` })
      expect(() => readCredentials(req, options), query).toThrow(
        expect.objectContaining({ code: 'invalid_request', reason: 'token_in_query', status: 400 }),
      )
    }
  })

  it('lets other parameters through, malformed percent-encoding included', () => {
    for (const query of [
      'access_tokens=b',
      'access+token=b',
      'x=access_token',
      '%zz=1&%=2&%6=3&%61',
      'access_token%',
      '%E0%A4%A=1',
      '%C1%A1ccess_token=b',
    ]) {
      expect(readCredentials(requestLike({}, { target: `/orders?${query}` }), options), query).toBeUndefined()
    }
  })

  it('rejects a malformed header', () => {
    for (const header of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b', 'Bearer "a"', 'Bearer ä']) {
      expect(() => readCredentials(requestLike({ authorization: header }), options), header).toThrow(
        expect.objectContaining({ code: 'invalid_request', reason: 'malformed_authorization' }),
      )
    }
  })

  it('rejects a token over the size bound before parsing it', () => {
    const req = requestLike({ authorization: `Bearer ${'a'.repeat(101)}` })
    expect(() => readCredentials(req, options)).toThrow(
      expect.objectContaining({ code: 'invalid_token', reason: 'token_too_large', status: 401 }),
    )
  })
})
