import { X509Certificate } from 'node:crypto'
import { createTestCa, issueSvid, type TestCa } from '@zerotrust/testkit/ca'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { altNames } from './alt-names.js'

let ca: TestCa
beforeAll(async () => {
  ca = await createTestCa({ trustDomain: 'prod.example.com' })
})

// What Node itself writes for a certificate's names: the string every adapter hands the layer.
async function nodeAltNames(uris: string[], dns: string[] = []): Promise<string> {
  const svid = await issueSvid(ca, { uris, dns })
  return new X509Certificate(svid.der).subjectAltName as string
}

describe('altNames (issue 15)', () => {
  it('reads plain entries', () => {
    expect(altNames('URI:spiffe://a/b, DNS:x.example, IP Address:127.0.0.1')).toEqual([
      { type: 'URI', value: 'spiffe://a/b' },
      { type: 'DNS', value: 'x.example' },
      { type: 'IP Address', value: '127.0.0.1' },
    ])
  })

  it('reads the values Node quotes, so a comma inside one cannot pose as another entry', async () => {
    const text = await nodeAltNames(
      ['spiffe://a/b, URI:spiffe://evil/x', 'spiffe://a/"q"\\'],
      ['x, URI:spiffe://evil/y'],
    )
    // Node 20 writes `URI:"spiffe://a/b\u002c URI:spiffe://evil/x"`.
    expect(text).toContain('URI:"spiffe://a/b\\u002c URI:spiffe://evil/x"')
    expect(altNames(text)).toEqual([
      { type: 'URI', value: 'spiffe://a/b, URI:spiffe://evil/x' },
      { type: 'URI', value: 'spiffe://a/"q"\\' },
      { type: 'DNS', value: 'x, URI:spiffe://evil/y' },
    ])
  })

  it('reads back exactly the names of real certificates, whatever characters they hold', async () => {
    const value = fc.string({ unit: fc.constantFrom(...'spiffe:/ab,"\\\'\u0001\u007f é.-%'), maxLength: 16 })
    await fc.assert(
      fc.asyncProperty(
        fc.array(value, { minLength: 1, maxLength: 3 }),
        fc.array(value, { maxLength: 2 }),
        async (uris, dns) => {
          // IA5String holds ASCII only; `é` shows what happens to a value a CA should never have written.
          fc.pre([...uris, ...dns].every((v) => !v.includes('é')))
          const names = altNames(await nodeAltNames(uris, dns))
          expect(names).toEqual([
            ...uris.map((v) => ({ type: 'URI', value: v })),
            ...dns.map((v) => ({ type: 'DNS', value: v })),
          ])
        },
      ),
      { numRuns: 40 },
    )
  })

  const unreadable = [
    'URI',
    ':x',
    'URI:a,DNS:b',
    'URI:a, ',
    'URI:"a',
    'URI:"a\\x"',
    'URI:"a\\u00zz"',
    'URI:"a"b',
    'URI:a"b',
    'URI:a\\b',
    'UR,I:a',
  ]
  it.each(unreadable)('refuses %j whole', (text) => {
    expect(altNames(text)).toBeUndefined()
  })

  it('reads an empty string as no names, and refuses one past the bound', () => {
    expect(altNames('')).toEqual([])
    expect(altNames(`URI:${'a'.repeat(64 * 1024)}`)).toBeUndefined()
  })
})
