import { describe, expect, it } from 'vitest'
import { checkIdempotencyLayer, parsedBody } from './idempotency.js'

describe('parsedBody and checkIdempotencyLayer', () => {
  it('maps what a body parser left to a RequestBody', () => {
    expect(parsedBody(undefined)).toBeUndefined()
    expect(parsedBody(Buffer.from('x'))).toEqual({ kind: 'bytes', bytes: Buffer.from('x') })
    expect(parsedBody({ a: 1 })).toEqual({ kind: 'parsed', value: { a: 1 } })
  })

  it('refuses anything but a layer', () => {
    expect(() => checkIdempotencyLayer({} as never)).toThrow(TypeError)
    expect(() =>
      checkIdempotencyLayer({ layer: 'x', begin: async () => ({ action: 'proceed', handle: undefined }) }),
    ).not.toThrow()
  })
})
