import { describe, expect, it } from 'vitest'
import { ZeroTrustError } from './errors.js'
import { exposeHeaders } from './expose-headers.js'
import { renderError } from './render-error.js'

describe('renderError', () => {
  it('answers missing credentials with a challenge without an error attribute (RFC 6750 §3.1)', () => {
    const err = new ZeroTrustError('missing_credentials', 'the request carries no access token', {
      challenges: [{ scheme: 'Bearer', params: { realm: 'orders' } }],
    })
    const { status, headers, problem } = renderError(err)
    expect(status).toBe(401)
    expect(headers['www-authenticate']).toBe('Bearer realm="orders"')
    expect(headers['content-type']).toBe('application/problem+json')
    expect(problem).toMatchObject({
      status: 401,
      code: 'missing_credentials',
      title: 'Authentication required',
    })
  })

  it('renders invalid_token as 401 with error and error_description', () => {
    const err = new ZeroTrustError('invalid_token', 'the access token expired', { reason: 'expired' })
    const { status, headers, body } = renderError(err, { realm: 'api' })
    expect(status).toBe(401)
    expect(headers['www-authenticate']).toBe(
      'Bearer realm="api", error="invalid_token", error_description="the access token expired"',
    )
    expect(JSON.parse(body)).toEqual({
      type: 'urn:zerotrust:error:invalid_token',
      title: 'Invalid access token',
      status: 401,
      detail: 'the access token expired',
      code: 'invalid_token',
      reason: 'expired',
    })
  })

  it('names the body its bytes: content-length counts UTF-8 bytes, content-type has no charset (issue 20)', () => {
    const err = new ZeroTrustError('access_denied', 'la commande appartient à quelqu’un d’autre')
    const { headers, body } = renderError(err)
    expect(headers['content-type']).toBe('application/problem+json')
    expect(headers['content-length']).toBe(String(Buffer.byteLength(body, 'utf8')))
    expect(Number(headers['content-length'])).toBeGreaterThan(body.length)
  })

  it('renders insufficient_scope as 403 carrying the scope', () => {
    const err = new ZeroTrustError('insufficient_scope', 'the access token lacks a required scope', {
      scope: ['orders:write', 'orders:admin'],
    })
    const { status, headers, problem } = renderError(err)
    expect(status).toBe(403)
    expect(headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="the access token lacks a required scope", scope="orders:write orders:admin"',
    )
    expect(problem.scope).toBe('orders:write orders:admin')
  })

  it('renders invalid_request as 400 with a challenge', () => {
    const { status, headers } = renderError(new ZeroTrustError('invalid_request', 'two credentials'))
    expect(status).toBe(400)
    expect(headers['www-authenticate']).toContain('error="invalid_request"')
  })

  it('renders a dependency outage as 503 with Retry-After and no challenge', () => {
    const err = new ZeroTrustError('dependency_unavailable', 'keys cannot be fetched', { retryAfter: 7 })
    const { status, headers } = renderError(err)
    expect(status).toBe(503)
    expect(headers['retry-after']).toBe('7')
    expect(headers['www-authenticate']).toBeUndefined()
  })

  it('renders a policy denial as 403 without a challenge', () => {
    const { status, headers } = renderError(new ZeroTrustError('access_denied', 'denied by policy'))
    expect(status).toBe(403)
    expect(headers['www-authenticate']).toBeUndefined()
  })

  it('renders unknown errors as 500 without leaking their message', () => {
    const { status, body, headers } = renderError(new Error('connection to db-secret-host:5432 refused'))
    expect(status).toBe(500)
    expect(body).not.toContain('db-secret-host')
    expect(JSON.parse(body)).toMatchObject({ code: 'internal_error', detail: 'an internal error occurred' })
    expect(headers['www-authenticate']).toBeUndefined()
    expect(renderError('a string').status).toBe(500)
    expect(renderError(undefined).status).toBe(500)
  })

  it('quotes and escapes every challenge parameter, and strips line breaks', () => {
    const err = new ZeroTrustError('invalid_token', 'bad "token" \\ here\r\nX-Injected: 1', {
      challenges: [{ scheme: 'DPoP', params: { realm: 'a"b\\c', algs: 'ES256 EdDSA' } }],
    })
    const value = renderError(err).headers['www-authenticate'] as string
    expect(value).toBe(
      'DPoP realm="a\\"b\\\\c", error="invalid_token", error_description="bad \'token\' \' hereX-Injected: 1", algs="ES256 EdDSA"',
    )
    expect(value).not.toMatch(/[\r\n]/)
  })

  it('joins several challenges and keeps extra headers', () => {
    const err = new ZeroTrustError('missing_credentials', 'none', {
      challenges: [{ scheme: 'DPoP', params: { algs: 'ES256' } }, { scheme: 'Bearer' }],
      headers: { 'DPoP-Nonce': 'n-1' },
    })
    const { headers } = renderError(err)
    expect(headers['www-authenticate']).toBe('DPoP algs="ES256", Bearer')
    expect(headers['dpop-nonce']).toBe('n-1')
  })
})

describe('renderError for DPoP and idempotency codes', () => {
  it('puts the DPoP error on the DPoP challenge only, beside a bare Bearer challenge (RFC 9449 §7.1)', () => {
    const err = new ZeroTrustError('invalid_dpop_proof', 'the DPoP proof was replayed', {
      challenges: [
        { scheme: 'DPoP', params: { algs: 'ES256 EdDSA' } },
        { scheme: 'Bearer', error: false },
      ],
    })
    const { status, headers } = renderError(err, { realm: 'api' })
    expect(status).toBe(401)
    expect(headers['www-authenticate']).toBe(
      'DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof was replayed", algs="ES256 EdDSA", Bearer realm="api"',
    )
  })

  it('answers use_dpop_nonce with 401 and the nonce header', () => {
    const err = new ZeroTrustError('use_dpop_nonce', 'a nonce is required', {
      challenges: [{ scheme: 'DPoP', params: { algs: 'ES256' } }],
      headers: { 'DPoP-Nonce': 'abc' },
    })
    const { status, headers } = renderError(err)
    expect(status).toBe(401)
    expect(headers['www-authenticate']).toBe(
      'DPoP error="use_dpop_nonce", error_description="a nonce is required", algs="ES256"',
    )
    expect(headers['dpop-nonce']).toBe('abc')
  })

  it('answers an idempotency conflict with 409, Retry-After and no challenge', () => {
    const { status, headers, problem } = renderError(
      new ZeroTrustError('idempotency_conflict', 'in progress', { retryAfter: 2 }),
    )
    expect(status).toBe(409)
    expect(headers['retry-after']).toBe('2')
    expect(headers['www-authenticate']).toBeUndefined()
    expect(problem.code).toBe('idempotency_conflict')
  })

  it('answers a reused key with 422 and a missing key with 400, without Retry-After', () => {
    expect(renderError(new ZeroTrustError('idempotency_key_reused', 'x')).status).toBe(422)
    const missing = renderError(new ZeroTrustError('invalid_idempotency_key', 'x'))
    expect(missing.status).toBe(400)
    expect(missing.headers['retry-after']).toBeUndefined()
    expect(missing.headers['www-authenticate']).toBeUndefined()
  })
})

describe('ZeroTrustError', () => {
  it('is recognized by its brand, even from another copy of the package', () => {
    const foreign = Object.assign(new Error('x'), { code: 'invalid_token' })
    Object.defineProperty(foreign, Symbol.for('zerotrust.error'), { value: true })
    expect(foreign instanceof ZeroTrustError).toBe(true)
    expect(new Error('x') instanceof ZeroTrustError).toBe(false)
    expect(new ZeroTrustError('access_denied', 'no') instanceof ZeroTrustError).toBe(true)
  })

  it('maps each code to one status', () => {
    const statuses = Object.fromEntries(
      ZeroTrustError.codes.map((c) => [c, new ZeroTrustError(c, 'm').status]),
    )
    expect(statuses).toEqual({
      invalid_request: 400,
      missing_credentials: 401,
      invalid_token: 401,
      insufficient_scope: 403,
      invalid_dpop_proof: 401,
      use_dpop_nonce: 401,
      unauthenticated_workload: 401,
      access_denied: 403,
      invalid_idempotency_key: 400,
      idempotency_conflict: 409,
      idempotency_key_reused: 422,
      unsupported_media_type: 415,
      rate_limited: 429,
      dependency_unavailable: 503,
      internal_error: 500,
    })
  })

  it('rejects an unknown code', () => {
    expect(() => new ZeroTrustError('nope' as 'invalid_token', 'm')).toThrow(TypeError)
  })
})

describe('exposeHeaders', () => {
  it('adds names after what a CORS layer listed, once, whatever their case', () => {
    expect(exposeHeaders(undefined, ['DPoP-Nonce'])).toBe('DPoP-Nonce')
    expect(exposeHeaders('X-Request-Id', ['DPoP-Nonce'])).toBe('X-Request-Id, DPoP-Nonce')
    expect(exposeHeaders('x-request-id, dpop-nonce', ['DPoP-Nonce'])).toBe('x-request-id, dpop-nonce')
    expect(exposeHeaders(['A', 'B'], ['C'])).toBe('A, B, C')
    expect(exposeHeaders('*', ['DPoP-Nonce'])).toBe('*')
  })

  it('is what renderError lists for errors that carry headers', () => {
    const { headers } = renderError(
      new ZeroTrustError('use_dpop_nonce', 'x', { headers: { 'DPoP-Nonce': 'n' } }),
    )
    expect(headers['access-control-expose-headers']).toBe('WWW-Authenticate, DPoP-Nonce')
  })

  it('keeps the list a CORS layer already set on the response in front', () => {
    const err = new ZeroTrustError('use_dpop_nonce', 'x', { headers: { 'DPoP-Nonce': 'n' } })
    const { headers } = renderError(err, { exposed: 'X-Request-Id' })
    expect(headers['access-control-expose-headers']).toBe('X-Request-Id, WWW-Authenticate, DPoP-Nonce')
    // Errors without headers of their own leave the response's list alone.
    expect(
      renderError(new ZeroTrustError('invalid_token', 'x'), { exposed: 'X' }).headers,
    ).not.toHaveProperty('access-control-expose-headers')
  })
})

describe('rate_limited', () => {
  it('answers 429 with Retry-After and no challenge (issue 12)', () => {
    const rendered = renderError(new ZeroTrustError('rate_limited', 'm', { retryAfter: 7 }))
    expect(rendered.status).toBe(429)
    expect(rendered.headers['retry-after']).toBe('7')
    expect(rendered.headers['www-authenticate']).toBeUndefined()
  })
})

// Issue 12 (fuzz pass): whatever strings an error carries, its rendering is headers a server can send.
describe('renderError with hostile strings', () => {
  it('leaves out headers and challenge parameters that could not be sent as they are', () => {
    const err = new ZeroTrustError('invalid_dpop_proof', 'bad\r\nproof', {
      reason: 'a\r\nb',
      challenges: [
        { scheme: 'DPoP\r\nX-Evil: 1' as never, params: { 'al gs': 'ES256', algs: 'ES256\r\nX-Evil: 1' } },
      ],
      headers: { 'DPoP-Nonce': 'n\r\nX-Evil: 1', 'X\r\nEvil': 'v', 'X-Ok': 'v' },
      scope: ['a\r\nb'],
    })
    const { status, headers, body } = renderError(err, { realm: 'r\n', exposed: 'X-A\r\nX-Evil: 1, X-B' })
    expect(status).toBe(401)
    expect(headers['www-authenticate']).toBe(
      'Bearer realm="r", error="invalid_dpop_proof", error_description="badproof", scope="ab", algs="ES256X-Evil: 1"',
    )
    expect(headers['dpop-nonce']).toBeUndefined()
    expect(headers['x-ok']).toBe('v')
    expect(headers['access-control-expose-headers']).toBe('X-B, WWW-Authenticate, X-Ok')
    expect(Object.keys(headers).every((name) => /^[a-z0-9-]+$/.test(name))).toBe(true)
    expect(JSON.parse(body)).toMatchObject({ code: 'invalid_dpop_proof', reason: 'a\r\nb' })
  })

  it('sends Retry-After as whole seconds, the default for a value that is none', () => {
    const retry = (retryAfter: number) =>
      renderError(new ZeroTrustError('idempotency_conflict', 'busy', { retryAfter })).headers['retry-after']
    expect([retry(2), retry(0.2), retry(Number.NaN), retry(-1), retry(Number.POSITIVE_INFINITY)]).toEqual([
      '2',
      '1',
      '5',
      '5',
      '5',
    ])
    expect(retry(1e12)).toBe('86400')
  })
})
