import { fromFetchRequest, noOrigin } from '@zerotrust/core/adapter'
import { describe, expect, it } from 'vitest'
import { canonicalJson, fingerprint } from './fingerprint.js'

const view = (target = '/payments', headers: Record<string, string> = {}) =>
  fromFetchRequest(new Request(`http://127.0.0.1${target}`, { method: 'POST', headers }), {
    resolveOrigin: noOrigin,
  })
const json = { 'content-type': 'application/json' }
const bytes = (text: string) => ({ kind: 'bytes', bytes: new TextEncoder().encode(text) }) as const

describe('fingerprint', () => {
  it('agrees for a JSON payload whatever its key order, whitespace or form (bytes or parsed)', () => {
    const parsed = fingerprint(
      view(),
      { kind: 'parsed', value: { amount: 5, to: { iban: 'X', name: 'Y' } } },
      undefined,
    )
    expect(
      fingerprint(view('/payments', json), bytes('{"to":{"name":"Y","iban":"X"},"amount":5}'), undefined),
    ).toBe(parsed)
    expect(
      fingerprint(
        view('/payments', json),
        bytes('{ "amount" : 5, "to": {"iban":"X","name":"Y"} }'),
        undefined,
      ),
    ).toBe(parsed)
  })

  it('differs for another body, another query or another method', () => {
    const base = fingerprint(view(), { kind: 'parsed', value: { amount: 5 } }, undefined)
    expect(fingerprint(view(), { kind: 'parsed', value: { amount: 6 } }, undefined)).not.toBe(base)
    expect(fingerprint(view('/payments?x=1'), { kind: 'parsed', value: { amount: 5 } }, undefined)).not.toBe(
      base,
    )
    expect(fingerprint(view(), undefined, undefined)).not.toBe(base)
    const put = fromFetchRequest(new Request('http://127.0.0.1/payments', { method: 'PUT' }), {
      resolveOrigin: noOrigin,
    })
    expect(fingerprint(put, { kind: 'parsed', value: { amount: 5 } }, undefined)).not.toBe(base)
  })

  it('hashes non-JSON bodies as bytes, and a parsed string as its text', () => {
    const text = view('/payments', { 'content-type': 'text/plain' })
    expect(fingerprint(text, bytes('hello'), undefined)).toBe(
      fingerprint(text, { kind: 'parsed', value: 'hello' }, undefined),
    )
    expect(fingerprint(text, bytes('hello'), undefined)).not.toBe(
      fingerprint(text, bytes('hellO'), undefined),
    )
    // A malformed JSON body is still fingerprinted, as bytes.
    expect(fingerprint(view('/payments', json), bytes('{"a":'), undefined)).not.toBe(
      fingerprint(view('/payments', json), bytes('{"a":1}'), undefined),
    )
  })

  it('counts only the selected top-level members with "fields"', () => {
    const fields = ['amount', 'currency']
    const a = fingerprint(
      view(),
      { kind: 'parsed', value: { amount: 5, currency: 'EUR', note: 'a' } },
      fields,
    )
    expect(
      fingerprint(view(), { kind: 'parsed', value: { currency: 'EUR', amount: 5, note: 'b' } }, fields),
    ).toBe(a)
    expect(fingerprint(view(), { kind: 'parsed', value: { amount: 6, currency: 'EUR' } }, fields)).not.toBe(a)
    // A member present as null differs from a member absent.
    expect(fingerprint(view(), { kind: 'parsed', value: { amount: 5, currency: null } }, fields)).not.toBe(
      fingerprint(view(), { kind: 'parsed', value: { amount: 5 } }, fields),
    )
  })

  it('fails closed with 500 when the headers announce a body no parser saw (a route without one)', () => {
    expect(() => fingerprint(view('/payments', { 'content-length': '12' }), undefined, undefined)).toThrow(
      expect.objectContaining({ code: 'internal_error', reason: 'body_not_read', status: 500 }),
    )
  })

  it('refuses a body a parser left unparsed for its media type with 415, never 500 (issue 12)', () => {
    const announced = view('/payments', { 'content-type': 'text/plain', 'content-length': '12' })
    expect(() => fingerprint(announced, { kind: 'unparsed' }, undefined)).toThrow(
      expect.objectContaining({ code: 'unsupported_media_type', reason: 'body_not_parsed', status: 415 }),
    )
    const chunked = view('/payments', { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' })
    expect(() => fingerprint(chunked, { kind: 'unparsed' }, undefined)).toThrow(
      expect.objectContaining({ code: 'unsupported_media_type' }),
    )
    // Nothing announced: the parser had nothing to read, and the request has no body.
    expect(fingerprint(view(), { kind: 'unparsed' }, undefined)).toBe(
      fingerprint(view(), undefined, undefined),
    )
  })

  it('hashes the target it is given in place of the path and query', () => {
    const body = { kind: 'parsed', value: { amount: 5 } } as const
    expect(fingerprint(view('/a'), body, undefined, 'route')).toBe(
      fingerprint(view('/B/'), body, undefined, 'route'),
    )
    expect(fingerprint(view('/a'), body, undefined, 'route')).not.toBe(
      fingerprint(view('/a'), body, undefined),
    )
  })

  it('tests a Content-Type of 64 KiB in linear time, and hashes its body as bytes (issue 12)', () => {
    const body = bytes('{"a":1}')
    for (const type of [
      `application/${'+'.repeat(65_536)}x`,
      `application/json${' '.repeat(65_536)}x`,
      `application/${'a+'.repeat(32_768)}json`,
      `application/${'a'.repeat(65_536)}+json`,
    ]) {
      const started = performance.now()
      const print = fingerprint(view('/payments', { 'content-type': type }), body, undefined)
      expect(performance.now() - started).toBeLessThan(50)
      expect(print).toBe(fingerprint(view(), body, undefined))
    }
  })

  it('refuses a body nested deeper than 256 levels with 400, without overflowing the stack', () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(() => fingerprint(view(), { kind: 'parsed', value: deep }, undefined)).toThrow(
      expect.objectContaining({ code: 'invalid_request', reason: 'body_too_deep', status: 400 }),
    )
  })

  it('writes canonical JSON with sorted keys and JSON number forms', () => {
    expect(canonicalJson({ b: [1, undefined, 'x'], a: { d: 1e21, c: null }, u: undefined }, 0)).toBe(
      '{"a":{"c":null,"d":1e+21},"b":[1,null,"x"]}',
    )
  })

  // Issue 13: canonicalJson cites RFC 8785, so it answers the RFC's own examples.
  it('writes the examples of RFC 8785 as the RFC does (JCS, issue 13)', () => {
    // §3.2.2: whitespace dropped, numbers in ECMAScript form, strings escaped as JSON.stringify does.
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`
    expect(canonicalJson(JSON.parse(input), 0)).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    )
    // §3.2.3: keys sorted by UTF-16 code units, so the emoji's surrogates come before U+FB33.
    const sorting = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`)
    expect(canonicalJson(sorting, 0)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
    // Appendix B: IEEE 754 doubles (by their bits) and the text RFC 8785 writes for them.
    const numbers: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ]
    for (const [bits, text] of numbers) {
      expect(canonicalJson(Buffer.from(bits, 'hex').readDoubleBE(0), 0), bits).toBe(text)
    }
    // RFC 8785 refuses NaN and infinities; no JSON text holds them, and a parser's are written as null.
    expect(canonicalJson([Number.NaN, Number.POSITIVE_INFINITY], 0)).toBe('[null,null]')
  })
})
