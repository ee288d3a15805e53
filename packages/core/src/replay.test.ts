import { describe, expect, it } from 'vitest'
import { replayResponse } from './replay.js'
import type { StoredResponse } from './stores.js'

const body = new TextEncoder().encode('{"payment":1}')
const stored = (status: number): StoredResponse => ({
  status,
  headers: { location: '/payments/1', 'set-cookie': ['a=1', 'b=2'] },
  body,
})

describe('replayResponse: one list of statuses that carry no body (issue 13)', () => {
  it('replays the status, headers and exact body of a response that carries content', () => {
    const replay = replayResponse(stored(201), 'POST')
    expect(replay).toEqual({
      status: 201,
      headers: { location: '/payments/1', 'set-cookie': ['a=1', 'b=2'] },
      body,
    })
  })

  it.each([101, 103, 204, 205, 304])('replays %i without a body (RFC 9110 §6.4.1, §15.3.6)', (status) => {
    const replay = replayResponse({ ...stored(status), body: new Uint8Array(0) }, 'POST')
    expect(replay.status).toBe(status)
    expect(replay.body).toBeUndefined()
    expect(replay.headers.location).toBe('/payments/1')
  })

  it('replays a response to HEAD without a body (RFC 9110 §9.3.2), and methods are case-sensitive', () => {
    expect(replayResponse(stored(200), 'HEAD').body).toBeUndefined()
    expect(replayResponse(stored(200), 'head').body).toBe(body)
  })

  it('hands each repeated header over as an array of its own', () => {
    const original = stored(201)
    const replay = replayResponse(original, 'POST')
    expect(replay.headers['set-cookie']).not.toBe(original.headers['set-cookie'])
    expect(replay.headers['set-cookie']).toEqual(['a=1', 'b=2'])
  })
})
