import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  isSpiffeIdError,
  parseSpiffeId,
  readSpiffeId,
  SpiffeIdError,
  type SpiffeIdRule,
  trustDomainRule,
} from './spiffe-id.js'

const domainChars = 'abcdefghijklmnopqrstuvwxyz0123456789.-_'
const pathChars = `${domainChars}ABCDEFGHIJKLMNOPQRSTUVWXYZ`

const trustDomain = fc.string({ unit: fc.constantFrom(...domainChars), minLength: 1, maxLength: 40 })
const segment = fc
  .string({ unit: fc.constantFrom(...pathChars), minLength: 1, maxLength: 12 })
  .filter((s) => s !== '.' && s !== '..')
const spiffeId = fc
  .tuple(trustDomain, fc.array(segment, { maxLength: 6 }))
  .map(([domain, segments]) => ({ domain, path: segments.map((s) => `/${s}`).join('') }))

// An independent reading of the standard, by splitting and regular expressions over short test strings,
// to hold the one-pass parser to.
function reference(value: string): 'valid' | 'invalid' {
  if (!value.startsWith('spiffe://') || Buffer.byteLength(value) > 2048) return 'invalid'
  const rest = value.slice('spiffe://'.length)
  const slash = rest.indexOf('/')
  const domain = slash === -1 ? rest : rest.slice(0, slash)
  if (!/^[a-z0-9._-]{1,255}$/.test(domain)) return 'invalid'
  if (slash === -1) return 'valid'
  const segments = rest.slice(slash + 1).split('/')
  const ok = segments.every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..')
  return ok ? 'valid' : 'invalid'
}

describe('parseSpiffeId (issue 15)', () => {
  it('splits an ID into trust domain and path', () => {
    expect(parseSpiffeId('spiffe://prod.example.com/ns/shop/sa/checkout')).toEqual({
      id: 'spiffe://prod.example.com/ns/shop/sa/checkout',
      trustDomain: 'prod.example.com',
      path: '/ns/shop/sa/checkout',
    })
    // The ID of a trust domain itself has an empty path.
    expect(parseSpiffeId('spiffe://example.org')).toEqual({
      id: 'spiffe://example.org',
      trustDomain: 'example.org',
      path: '',
    })
    expect(parseSpiffeId('spiffe://a_b-c.d/A.b-C_9/..x/.y')).toMatchObject({ path: '/A.b-C_9/..x/.y' })
  })

  const refusals: [string, SpiffeIdRule][] = [
    ['http://example.org/api', 'scheme'],
    ['SPIFFE://example.org/api', 'scheme'],
    ['Spiffe://example.org/api', 'scheme'],
    ['spiffe:/example.org/api', 'scheme'],
    ['example.org/api', 'scheme'],
    ['', 'scheme'],
    ['spiffe://', 'empty_trust_domain'],
    ['spiffe:///api', 'empty_trust_domain'],
    ['spiffe://Example.org/api', 'trust_domain_charset'],
    ['spiffe://exa mple.org/api', 'trust_domain_charset'],
    ['spiffe://exämple.org/api', 'trust_domain_charset'],
    ['spiffe://example.org:8443/api', 'port'],
    ['spiffe://user@example.org/api', 'userinfo'],
    ['spiffe://user:pw@example.org/api', 'port'],
    ['spiffe://example.org?x=1', 'query'],
    ['spiffe://example.org/api?x=1', 'query'],
    ['spiffe://example.org/api#frag', 'fragment'],
    ['spiffe://example.org/a%2Fb', 'percent_encoding'],
    ['spiffe://example.org/', 'trailing_slash'],
    ['spiffe://example.org/api/', 'trailing_slash'],
    ['spiffe://example.org//api', 'empty_segment'],
    ['spiffe://example.org/./api', 'dot_segment'],
    ['spiffe://example.org/api/..', 'dot_segment'],
    ['spiffe://example.org/a b', 'path_charset'],
    ['spiffe://example.org/a:b', 'path_charset'],
    ['spiffe://example.org/a@b', 'path_charset'],
    ['spiffe://example.org/a\\b', 'path_charset'],
    ['spiffe://example.org/ünicode', 'path_charset'],
    ['spiffe://example.org/a\nb', 'path_charset'],
    [`spiffe://${'a'.repeat(256)}/api`, 'trust_domain_too_long'],
    [`spiffe://example.org/${'a'.repeat(2048)}`, 'too_long'],
  ]

  it.each(refusals)('refuses %j, naming the rule %s', (value, rule) => {
    expect(readSpiffeId(value)).toBe(rule)
    let thrown: unknown
    try {
      parseSpiffeId(value)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(SpiffeIdError)
    expect(thrown).toMatchObject({ code: 'ERR_SPIFFE_ID', rule, name: 'SpiffeIdError' })
    expect(isSpiffeIdError(thrown)).toBe(true)
    // The message never quotes the input, which may come from a request.
    if (value.length > 12) expect((thrown as Error).message).not.toContain(value)
  })

  it('refuses what is not a string', () => {
    expect(readSpiffeId(42)).toBe('not_a_string')
    expect(() => parseSpiffeId(undefined as unknown as string)).toThrow(SpiffeIdError)
  })

  it('takes 2048 bytes and refuses 2049', () => {
    const head = 'spiffe://example.org/'
    const at = (n: number) => `${head}${'a'.repeat(n - head.length)}`
    expect(parseSpiffeId(at(2048)).id).toHaveLength(2048)
    expect(readSpiffeId(at(2049))).toBe('too_long')
    expect(parseSpiffeId(`spiffe://${'a'.repeat(255)}`).trustDomain).toHaveLength(255)
  })

  it('parses every ID built by the rules, keeping its parts', () => {
    fc.assert(
      fc.property(spiffeId, ({ domain, path }) => {
        const id = `spiffe://${domain}${path}`
        expect(parseSpiffeId(id)).toEqual({ id, trustDomain: domain, path })
      }),
    )
  })

  it('agrees with an independent reading of the standard on strings near the rules', () => {
    const near = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'spiffe:/abcXYZ.-_09@?#%:/ é\\'), maxLength: 40 }),
      fc.tuple(spiffeId, fc.nat(60), fc.constantFrom(...'/.:@?#% A\\é')).map(([{ domain, path }, at, c]) => {
        const id = `spiffe://${domain}${path}`
        const i = 9 + (at % (id.length - 8))
        return `${id.slice(0, i)}${c}${id.slice(i)}`
      }),
    )
    fc.assert(
      fc.property(near, (value) => {
        const read = readSpiffeId(value)
        expect(typeof read === 'string' ? 'invalid' : 'valid').toBe(reference(value))
      }),
      { numRuns: 2000 },
    )
  })

  it('refuses an ID with a forbidden character inserted, naming that character', () => {
    // A `:` or `@` is a port or user info in the authority, and a character outside the set in the path.
    const named: Record<string, [SpiffeIdRule, SpiffeIdRule]> = {
      '?': ['query', 'query'],
      '#': ['fragment', 'fragment'],
      '%': ['percent_encoding', 'percent_encoding'],
      '@': ['userinfo', 'path_charset'],
      ':': ['port', 'path_charset'],
    }
    fc.assert(
      fc.property(spiffeId, fc.constantFrom(...Object.keys(named)), fc.nat(), ({ domain, path }, c, at) => {
        const id = `spiffe://${domain}${path}`
        const i = 9 + (at % (id.length - 8))
        const [inDomain, inPath] = named[c] as [SpiffeIdRule, SpiffeIdRule]
        expect(readSpiffeId(`${id.slice(0, i)}${c}${id.slice(i)}`)).toBe(
          i <= 9 + domain.length ? inDomain : inPath,
        )
      }),
    )
  })
})

describe('trustDomainRule', () => {
  it('accepts a trust domain name and names the rule another breaks', () => {
    expect(trustDomainRule('prod.example.com')).toBeUndefined()
    expect(trustDomainRule('')).toBe('empty_trust_domain')
    expect(trustDomainRule('Prod.example.com')).toBe('trust_domain_charset')
    expect(trustDomainRule('example.org:443')).toBe('port')
    expect(trustDomainRule('example.org/x')).toBe('trust_domain_charset')
    expect(trustDomainRule('a'.repeat(256))).toBe('trust_domain_too_long')
    expect(trustDomainRule(7)).toBe('not_a_string')
  })
})
