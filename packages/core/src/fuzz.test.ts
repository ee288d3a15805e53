// Issue 12 (reliability suite): every parser of core that sees request data, fed hostile and 64 KiB
// adversarial input. Nothing may escape but a ZeroTrustError of a 4xx, and each input is handled within
// a time bound that a super-linear parser (seconds at this size) cannot meet.
import { validateHeaderName, validateHeaderValue } from 'node:http'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readCredentials } from './credentials.js'
import { errorTable, isZeroTrustError, ZeroTrustError, type ZeroTrustErrorCode } from './errors.js'
import { renderError } from './render-error.js'
import { fromFetchRequest, fromNodeRequest, originResolver, type RequestLike, requestUrl } from './request.js'

/** Generous for linear work on 64 KiB (well under a millisecond), far under a quadratic parser's cost (seconds). */
const boundMs = 100
const size = 64 * 1024

/** Runs `run` and checks it took under the bound; a slow run is retried four times, so a pause of a loaded machine is no failure. */
function expectFast(run: () => void, label: string): void {
  for (let attempt = 0; ; attempt++) {
    const started = performance.now()
    run()
    const took = performance.now() - started
    if (took < boundMs) return
    if (attempt === 4) expect.fail(`${label}: ${took.toFixed(1)} ms for one input`)
  }
}

/** Runs `parse` and lets only a ZeroTrustError of a 4xx out. */
function settle<T>(parse: () => T): T | ZeroTrustError {
  try {
    return parse()
  } catch (thrown) {
    if (!isZeroTrustError(thrown)) throw thrown
    expect(thrown.status, `${thrown.code} ${thrown.reason}`).toBeGreaterThanOrEqual(400)
    expect(thrown.status, `${thrown.code} ${thrown.reason}`).toBeLessThan(500)
    return thrown
  }
}

// Pieces that make regular expressions and hand-written scanners backtrack or loop: runs of separators,
// quotes and escapes, percent signs, scheme names, dots of a JWT.
const nasty = [
  ' ',
  '\t',
  '%',
  '%6',
  '%61',
  '+',
  '=',
  '&',
  '?',
  '"',
  '\\"',
  '\\',
  ',',
  '.',
  'a.',
  '[',
  ':',
  '/',
]
const nastyPrefixes = ['', 'Bearer ', 'DPoP ', 'bearer  ', '"', 'a', '/?', '/?access_token', '[::']

/** 64 KiB strings that repeat a small adversarial pattern behind a prefix, with a stray end. */
const adversarial = fc
  .tuple(
    fc.constantFrom(...nastyPrefixes),
    fc.oneof(fc.constantFrom(...nasty), fc.string({ minLength: 1, maxLength: 6, unit: 'binary-ascii' })),
    fc.constantFrom('', 'x', '!', '\u00e9', '"'),
  )
  .map(([prefix, unit, tail]) => `${prefix}${unit.repeat(Math.ceil(size / unit.length))}${tail}`)

/** Short hostile strings: any code point, control characters, lone surrogates. */
const hostile = fc.oneof(
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.string({ maxLength: 40, unit: 'binary-ascii' }),
  fc.constantFrom('\r\nSet-Cookie: a=b', '\u0000', '\ud800', '"\\', 'a\nb', '\u2028'),
)
const anyInput = fc.oneof({ weight: 3, arbitrary: hostile }, { weight: 1, arbitrary: adversarial })

// No shrinking: a 64 KiB counterexample does not shrink usefully, and shrinking a slow parser's would
// hold CI for minutes; the failure names the input and the seed to replay it.
const runs = { numRuns: 150, endOnFailure: true }

function view(target: string, headers: Record<string, readonly string[]>): RequestLike {
  const q = target.indexOf('?')
  return {
    method: 'GET',
    origin: 'https://api.example.com',
    target,
    path: q === -1 ? target : target.slice(0, q),
    headerValues: (name) => headers[name.toLowerCase()] ?? [],
  }
}

describe('fuzz: readCredentials (issue 12)', () => {
  const options = {
    schemes: ['Bearer', 'DPoP'] as const,
    maxTokenLength: 8192,
    challenges: [{ scheme: 'Bearer' as const }],
  }

  it('reads any Authorization header to a credential, nothing, or a 4xx, within the bound', () => {
    fc.assert(
      fc.property(anyInput, fc.boolean(), (header, twice) => {
        const req = view('/orders', { authorization: twice ? [header, header] : [header] })
        expectFast(() => {
          const read = settle(() => readCredentials(req, options))
          if (read !== undefined && !isZeroTrustError(read)) {
            expect(read.token.length).toBeLessThanOrEqual(options.maxTokenLength)
            expect(read.token).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/)
          }
        }, 'readCredentials')
      }),
      runs,
    )
  })

  it('reads any request target without throwing anything but a 4xx, within the bound', () => {
    fc.assert(
      fc.property(anyInput, (query) => {
        const req = view(`/orders?${query}`, {})
        expectFast(() => settle(() => readCredentials(req, options)), 'query scan')
      }),
      runs,
    )
  })
})

describe('fuzz: request view and URL (issue 12)', () => {
  const behindProxy = originResolver({ trustProxy: true })
  const configured = originResolver({ publicOrigin: 'https://api.example.com' })

  it('builds the view of any Node request and its URL, or refuses it with a 4xx, within the bound', () => {
    fc.assert(
      fc.property(anyInput, anyInput, anyInput, anyInput, (url, host, proto, requestId) => {
        const source = {
          method: 'get',
          url: url.startsWith('/') ? url : `/${url}`,
          rawHeaders: ['X-Forwarded-Host', host, 'X-Forwarded-Proto', proto, 'X-Request-Id', requestId],
          socket: { remoteAddress: '127.0.0.1' },
        }
        expectFast(() => {
          for (const resolveOrigin of [behindProxy, configured]) {
            const built = fromNodeRequest(source, { resolveOrigin })
            if (built.origin !== undefined) {
              expect(new URL(built.origin).origin).toBe(built.origin)
              const url = settle(() => requestUrl(built))
              if (url instanceof URL) expect(url.origin).toBe(built.origin)
            }
            if (built.requestId !== undefined) expect(built.requestId.length).toBeLessThanOrEqual(128)
            expect(built.target.startsWith(built.path)).toBe(true)
          }
        }, 'fromNodeRequest')
      }),
      runs,
    )
  })

  it('builds the view of any Fetch request, within the bound', () => {
    fc.assert(
      fc.property(anyInput, anyInput, (path, requestId) => {
        let request: Request
        try {
          const headers = new Headers()
          headers.set('x-request-id', requestId)
          request = new Request(`http://127.0.0.1/${path}`, { headers })
        } catch {
          return // not a request Fetch would build: nothing of ours runs
        }
        expectFast(() => {
          const built = fromFetchRequest(request, { resolveOrigin: configured })
          const url = settle(() => requestUrl(built))
          if (url instanceof URL) expect(url.origin).toBe('https://api.example.com')
        }, 'fromFetchRequest')
      }),
      runs,
    )
  })
})

describe('fuzz: renderError (issue 12)', () => {
  const codes = Object.keys(errorTable) as ZeroTrustErrorCode[]
  const params = fc.dictionary(anyInput, anyInput, { maxKeys: 3 })
  const hostileError = fc.record({
    code: fc.constantFrom(...codes),
    message: anyInput,
    reason: fc.option(anyInput, { nil: undefined }),
    scope: fc.option(fc.array(anyInput, { maxLength: 3 }), { nil: undefined }),
    challenges: fc.option(
      fc.array(
        fc.record({
          scheme: fc.oneof(fc.constantFrom('Bearer' as const, 'DPoP' as const), anyInput),
          params: fc.option(params, { nil: undefined }),
          error: fc.option(fc.boolean(), { nil: undefined }),
        }),
        { maxLength: 3 },
      ),
      { nil: undefined },
    ),
    headers: fc.option(params, { nil: undefined }),
    retryAfter: fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined }),
    realm: fc.option(anyInput, { nil: undefined }),
    exposed: fc.option(anyInput, { nil: undefined }),
  })

  it('renders hostile messages, reasons, realms, scopes and parameters as valid headers and JSON', () => {
    fc.assert(
      fc.property(hostileError, (e) => {
        const error = new ZeroTrustError(e.code, e.message, {
          ...(e.reason === undefined ? {} : { reason: e.reason }),
          ...(e.scope === undefined ? {} : { scope: e.scope }),
          ...(e.challenges === undefined ? {} : { challenges: e.challenges as never }),
          ...(e.headers === undefined ? {} : { headers: e.headers }),
          ...(e.retryAfter === undefined ? {} : { retryAfter: e.retryAfter }),
        })
        // Only the rendering is timed (after a first, untimed one): the checks below run vitest's matchers
        // over 64 KiB values, whose cost says nothing of renderError's.
        let rendered = renderError(error, { realm: e.realm, exposed: e.exposed })
        expectFast(() => {
          rendered = renderError(error, { realm: e.realm, exposed: e.exposed })
        }, 'renderError')
        expect(rendered.status).toBe(errorTable[e.code].status)
        for (const [name, value] of Object.entries(rendered.headers)) {
          expect(() => validateHeaderName(name), name).not.toThrow()
          expect(() => validateHeaderValue(name, value), `${name}: ${value}`).not.toThrow()
          expect(value).not.toMatch(/[\r\n\0]/)
        }
        if (rendered.headers['retry-after'] !== undefined) {
          expect(rendered.headers['retry-after']).toMatch(/^\d{1,10}$/)
        }
        const body = JSON.parse(rendered.body)
        expect(body).toMatchObject({ status: rendered.status, code: e.code })
      }),
      runs,
    )
  })
})
