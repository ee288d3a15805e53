import { describe, expect, it } from 'vitest'
import { type ContextPropagator, maxPropagatedHeaders, propagateInto } from './propagation.js'

const of = (inject: ContextPropagator['inject']): ContextPropagator => ({ inject })

describe('propagateInto (issue 18)', () => {
  it('adds what the propagator sets, lower case, and reports nothing', () => {
    const headers: Record<string, string> = { accept: 'application/json' }
    const diagnostics = propagateInto(
      of((set) => {
        set('Traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
        set('tracestate', 'congo=t61rcWkgMzE')
      }),
      headers,
    )
    expect(diagnostics).toBeUndefined()
    expect(headers).toEqual({
      accept: 'application/json',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'congo=t61rcWkgMzE',
    })
  })

  it('refuses the headers the client sets, by name, whatever their case', () => {
    const headers: Record<string, string> = {}
    const names = ['Authorization', 'DPoP', 'Idempotency-Key', 'Host', 'content-length', 'Transfer-Encoding']
    const diagnostics = propagateInto(
      of((set) => {
        for (const name of names) set(name, 'x')
        set('traceparent', 'kept')
      }),
      headers,
    )
    expect(headers).toEqual({ traceparent: 'kept' })
    expect(diagnostics).toEqual([
      'propagator_header_refused:authorization',
      'propagator_header_refused:dpop',
      'propagator_header_refused:idempotency-key',
      'propagator_header_refused:host',
      'propagator_header_refused:content-length',
      'propagator_header_refused:transfer-encoding',
    ])
  })

  it("keeps a header the call already carries: the caller's choice", () => {
    const headers: Record<string, string> = { traceparent: 'the-callers' }
    expect(
      propagateInto(
        of((set) => set('traceparent', 'the-propagators')),
        headers,
      ),
    ).toBeUndefined()
    expect(headers.traceparent).toBe('the-callers')
  })

  it('drops names and values that are not headers, and everything past the bounds', () => {
    const headers: Record<string, string> = {}
    const diagnostics = propagateInto(
      of((set) => {
        set('bad name', 'x')
        set('x-split', 'a\r\nx-injected: 1')
        set('__proto__', 'x')
        set('x-long', 'a'.repeat(8193))
        set('x'.repeat(129), 'a')
        set(42 as unknown as string, 'x')
        set('baggage', 'userId=alice')
        for (let i = 0; i < maxPropagatedHeaders; i++) set(`x-extra-${i}`, String(i))
      }),
      headers,
    )
    expect(diagnostics).toEqual(['propagator_header_invalid'])
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype)
    // Sixteen taken in all: the bad ones count against the bound, what follows is dropped.
    expect(Object.keys(headers)).toEqual(['baggage', ...Array.from({ length: 9 }, (_, i) => `x-extra-${i}`)])
  })

  it('sends none of the headers of a propagator that throws, and reports it', () => {
    const headers: Record<string, string> = { accept: '*/*' }
    const diagnostics = propagateInto(
      of((set) => {
        set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
        throw new Error('no context')
      }),
      headers,
    )
    expect(diagnostics).toEqual(['propagator_failed'])
    expect(headers).toEqual({ accept: '*/*' })
  })

  it('ignores a setter called after inject returned', () => {
    let later: ((name: string, value: string) => void) | undefined
    const headers: Record<string, string> = {}
    propagateInto(
      of((set) => {
        later = set
      }),
      headers,
    )
    later?.('traceparent', 'late')
    expect(headers).toEqual({})
  })
})
