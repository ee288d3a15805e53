import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { completedMagic, decodeRecord, encodePending, encodeResponse, isOwnerToken } from './record.js'

// What the complete script writes: magic, fingerprint length and fingerprint, then the encoded response.
function completed(fingerprint: string, response: Parameters<typeof encodeResponse>[0]): Buffer {
  const fp = Buffer.from(fingerprint, 'utf8')
  return Buffer.concat([Buffer.from(`${completedMagic}${fp.length}\n`), fp, encodeResponse(response)])
}

describe('idempotency records', () => {
  it('reads a pending record back as in flight with its fingerprint', () => {
    expect(decodeRecord(encodePending(randomUUID(), 'POST /orders 9f2c'))).toEqual({
      state: 'in_flight',
      fingerprint: 'POST /orders 9f2c',
    })
  })

  it('reads a completed record back exactly', () => {
    const response = {
      status: 409,
      headers: { 'content-type': 'application/json', vary: ['a', 'b'] },
      body: new Uint8Array([0, 10, 13, 255]),
    }
    expect(decodeRecord(completed('fp\nwith newline', response))).toEqual({
      state: 'completed',
      fingerprint: 'fp\nwith newline',
      response,
    })
  })

  it('refuses every truncation and every single-byte corruption of a completed record', () => {
    const record = completed('fp', { status: 200, headers: { a: 'b' }, body: new Uint8Array([1, 2, 3]) })
    for (let end = 0; end < record.length; end++) {
      expect(() => decodeRecord(record.subarray(0, end))).toThrow(
        expect.objectContaining({ code: 'dependency_unavailable', reason: 'redis_corrupt_record' }),
      )
    }
    // Zeroing any byte before the body is caught, except inside the fingerprint (bytes 6 and 7 of
    // "zt1c2\nfp"), which then no longer matches the request's and is answered 422, never replayed.
    const bodyStart = record.length - 3
    for (let i = 0; i < bodyStart; i++) {
      const copy = Buffer.from(record)
      copy[i] = 0x00
      if (i === 6 || i === 7) {
        expect(decodeRecord(copy)).toMatchObject({ state: 'completed', fingerprint: i === 6 ? '\0p' : 'f\0' })
      } else {
        expect(() => decodeRecord(copy)).toThrow(
          expect.objectContaining({ code: 'dependency_unavailable', reason: 'redis_corrupt_record' }),
        )
      }
    }
  })

  it('refuses a reply that is not a byte string', () => {
    for (const reply of ['zt1pabc\nfp', 1, [], {}, undefined]) {
      expect(() => decodeRecord(reply)).toThrow(
        expect.objectContaining({ code: 'dependency_unavailable', reason: 'redis_corrupt_record' }),
      )
    }
  })

  it('recognizes only the owner tokens it generates', () => {
    expect(isOwnerToken(randomUUID())).toBe(true)
    for (const bad of ['', 'owner', `${randomUUID()}\n`, randomUUID().toUpperCase(), 42, undefined]) {
      expect(isOwnerToken(bad)).toBe(false)
    }
  })
})
