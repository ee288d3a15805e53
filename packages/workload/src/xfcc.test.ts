import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isXfccError, parseXfcc, readXfcc, XfccError, type XfccKey } from './xfcc.js'

const orders = 'spiffe://prod.example.com/ns/shop/sa/orders'
const checkout = 'spiffe://prod.example.com/ns/shop/sa/checkout'
const hash = '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688'

describe('parseXfcc (issue 15)', () => {
  it("reads Envoy's example: one element of By, Hash, Subject and URI", () => {
    const value = `By=http://frontend.lyft.com;Hash=${hash};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`
    expect(parseXfcc(value)).toEqual([
      {
        By: ['http://frontend.lyft.com'],
        Hash: [hash],
        Subject: ['/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client'],
        URI: ['http://testclient.lyft.com'],
      },
    ])
  })

  it('reads every element, the nearest proxy last, with repeated keys kept in order', () => {
    const value = [
      `By=spiffe://edge/gw;Hash=aa;URI=spiffe://edge/client`,
      `By=${orders};By=spiffe://other/x;Hash=bb;DNS=a.example;DNS=b.example;URI=${checkout}`,
    ].join(',')
    expect(parseXfcc(value)).toEqual([
      { By: ['spiffe://edge/gw'], Hash: ['aa'], URI: ['spiffe://edge/client'] },
      {
        By: [orders, 'spiffe://other/x'],
        Hash: ['bb'],
        DNS: ['a.example', 'b.example'],
        URI: [checkout],
      },
    ])
  })

  it('keeps commas, semicolons, equals signs and escaped quotes inside quoted values', () => {
    const value = `Subject="CN=a, O=b; c=\\"d\\"";URI=${checkout},By=${orders};Subject="x\\,y";URI=""`
    expect(parseXfcc(value)).toEqual([
      { Subject: ['CN=a, O=b; c="d"'], URI: [checkout] },
      // A backslash before anything but a quote is the value's own (a Subject's RFC 4514 escape).
      { By: [orders], Subject: ['x\\,y'], URI: [''] },
    ])
  })

  it('reads keys in any case and leaves out keys Envoy does not define', () => {
    expect(parseXfcc(`by=${orders};uri=${checkout};Extra=1;DNS=d`)).toEqual([
      { By: [orders], URI: [checkout], DNS: ['d'] },
    ])
  })

  it('takes the spaces a joined repeated header puts around its elements', () => {
    expect(parseXfcc(` URI=a , URI=b\t,\tURI="c" `)).toEqual([{ URI: ['a'] }, { URI: ['b'] }, { URI: ['c'] }])
    // Spaces inside a quoted value are the value's.
    expect(parseXfcc('URI=" a ";Hash=b ;DNS= c')).toEqual([{ URI: [' a '], Hash: ['b'], DNS: ['c'] }])
  })

  const malformed = [
    '',
    ' ',
    'URI',
    '=x',
    'URI=a;',
    'URI=a,',
    ',URI=a',
    'URI=a,,URI=b',
    'URI=a;;Hash=b',
    'URI=a=b',
    'URI=a"b',
    'URI="a',
    'URI="a\\"',
    'URI="a"b',
    'URI="a" ;Hash=b',
    'URI=a; Hash=b',
    'U RI=a',
    'URI=a\nb',
    'URI="a\rb"',
    'URI=a\u0000',
    'Subject="/C=US",URI',
  ]

  it.each(malformed)('refuses the malformed %j whole', (value) => {
    expect(readXfcc(value)).toBe('malformed')
    expect(() => parseXfcc(value)).toThrow(XfccError)
  })

  it('refuses a header over the bound before reading it', () => {
    const value = `URI=${'a'.repeat(100)}`
    expect(readXfcc(value, 50)).toBe('too_long')
    let thrown: unknown
    try {
      parseXfcc(`URI=${'a'.repeat(16 * 1024)}`)
    } catch (error) {
      thrown = error
    }
    expect(isXfccError(thrown)).toBe(true)
    expect(thrown).toMatchObject({ code: 'ERR_XFCC', failure: 'too_long' })
    expect(parseXfcc(`URI=${'a'.repeat(16 * 1024 - 4)}`)).toHaveLength(1)
  })

  // What Envoy writes: a value holding `,`, `;`, `=` or `"` double-quoted, with `\"` for a quote.
  const keys: readonly XfccKey[] = ['By', 'Hash', 'Cert', 'Chain', 'Subject', 'URI', 'DNS']
  const serialize = (elements: [XfccKey, string][][]) =>
    elements
      .map((pairs) =>
        pairs
          .map(
            ([key, value]) =>
              `${key}=${/[,;="]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '\\"')}"` : value}`,
          )
          .join(';'),
      )
      .join(',')
  const valueText = fc.string({ unit: fc.constantFrom(...'ab:/.,;="\\ -_%'), maxLength: 12 })
  // A value whose last character is a backslash cannot be quoted unambiguously by Envoy's escaping.
  const pair = fc.tuple(
    fc.constantFrom(...keys),
    valueText.filter((v) => !v.endsWith('\\')),
  )
  const elements = fc.array(fc.array(pair, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 })

  it('reads back what Envoy writes, element by element and value by value', () => {
    fc.assert(
      fc.property(elements, (written) => {
        const expected = written.map((pairs) => {
          const element: Partial<Record<XfccKey, string[]>> = {}
          for (const [key, value] of pairs) element[key] = [...(element[key] ?? []), value]
          return element
        })
        expect(parseXfcc(serialize(written))).toEqual(expected)
      }),
      { numRuns: 500 },
    )
  })

  it('answers any string with elements or a refusal, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'URIBy=;,"\\ a\n'), maxLength: 60 }), (value) => {
        const read = readXfcc(value)
        expect(Array.isArray(read) || read === 'malformed').toBe(true)
      }),
      { numRuns: 2000 },
    )
  })
})
