import { describe, expect, it } from 'vitest'
import { recorder, text } from '../test/recording-handle.js'
import { captureFetchResponse } from './capture-fetch.js'

describe('captureFetchResponse', () => {
  it('streams the body through and hands it over when it ends, before the stream closes', async () => {
    const { handle, seen } = recorder()
    const headers = new Headers({ 'content-type': 'application/json' })
    headers.append('set-cookie', 'a=1')
    headers.append('set-cookie', 'b=2')
    const out = await captureFetchResponse(new Response('{"id":1}', { status: 201, headers }), handle)
    expect(out.status).toBe(201)
    expect(seen.completed).toHaveLength(0)
    expect(await out.text()).toBe('{"id":1}')
    expect(seen.completed[0]?.headers).toMatchObject({ 'set-cookie': ['a=1', 'b=2'] })
    expect(text(seen.completed[0]?.body)).toBe('{"id":1}')
  })

  it('passes each chunk on as it comes, so a slow stream is not held back', async () => {
    const { handle, seen } = recorder()
    let push: (chunk: string) => void = () => {}
    let close = () => {}
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (chunk) => controller.enqueue(new TextEncoder().encode(chunk))
        close = () => controller.close()
      },
    })
    const out = await captureFetchResponse(new Response(stream), handle)
    const reader = out.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>
    push('event: 1\n\n')
    expect(text((await reader.read()).value)).toBe('event: 1\n\n')
    push('event: 2\n\n')
    close()
    expect(text((await reader.read()).value)).toBe('event: 2\n\n')
    expect((await reader.read()).done).toBe(true)
    expect(text(seen.completed[0]?.body)).toBe('event: 1\n\nevent: 2\n\n')
  })

  it('streams a body over the cap through unchanged, handed over as not captured', async () => {
    const { handle, seen } = recorder(5)
    const parts = ['abc', 'def', 'ghi']
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift()
        if (next === undefined) controller.close()
        else controller.enqueue(new TextEncoder().encode(next))
      },
    })
    const out = await captureFetchResponse(new Response(stream), handle)
    expect(await out.text()).toBe('abcdefghi')
    expect(seen.completed).toHaveLength(1)
    expect(seen.completed[0]?.body).toBeUndefined()
  })

  it('hands over a response without a body at once', async () => {
    const { handle, seen } = recorder()
    const out = await captureFetchResponse(new Response(null, { status: 204 }), handle)
    expect(out.status).toBe(204)
    expect(seen.completed[0]).toMatchObject({ status: 204, body: new Uint8Array(0) })
  })

  it('releases the key when the body fails while read', async () => {
    const { handle, seen } = recorder()
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error('upstream reset'))
      },
    })
    const out = await captureFetchResponse(new Response(stream), handle)
    await expect(out.text()).rejects.toThrow('upstream reset')
    expect(seen.released).toBe(1)
    expect(seen.completed).toHaveLength(0)
  })
})

describe('captureFetchResponse when the client cancels the body', () => {
  it('releases the key, and a read the cancel cut short hands over nothing', async () => {
    const { handle, seen } = recorder()
    let served = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        served += 1
        // The first chunk comes at once; the second never does, so the cancel ends a pending read.
        if (served === 1) controller.enqueue(new TextEncoder().encode('first'))
        else return new Promise<void>(() => {})
      },
    })
    const out = await captureFetchResponse(new Response(stream), handle)
    const reader = out.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>
    expect(text((await reader.read()).value)).toBe('first')
    const pending = reader.read()
    await reader.cancel('client went away')
    expect((await pending).done).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(seen).toMatchObject({ released: 1, completed: [] })
  })
})
