import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { recorder, text } from '../test/recording-handle.js'
import { captureNodeResponse } from './capture-node.js'
import type { IdempotencyHandle } from './idempotency.js'

/** Serves one Node handler on 127.0.0.1, captured, and fetches it once. */
async function serveOnce(handle: IdempotencyHandle, write: (res: ServerResponse) => void) {
  const server = createServer((_req, res) => {
    captureNodeResponse(res, handle)
    write(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    return { status: res.status, headers: res.headers, body: await res.text() }
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

describe('captureNodeResponse', () => {
  it('captures status, headers from setHeader and writeHead, and every written chunk', async () => {
    const { handle, seen } = recorder()
    const sent = await serveOnce(handle, (res) => {
      res.setHeader('content-type', 'text/plain')
      res.writeHead(201, ['x-raw', 'a', 'x-raw', 'b'])
      res.write('hello ')
      res.write(Buffer.from('wor'))
      res.end('ld', 'utf8')
    })
    expect(sent).toMatchObject({ status: 201, body: 'hello world' })
    const [captured] = seen.completed
    expect(captured?.status).toBe(201)
    expect(captured?.headers).toMatchObject({ 'content-type': 'text/plain', 'x-raw': ['a', 'b'] })
    expect(text(captured?.body)).toBe('hello world')
  })

  it('hands over an empty body when nothing was written, and ignores a second end()', async () => {
    const { handle, seen } = recorder()
    const sent = await serveOnce(handle, (res) => {
      res.statusCode = 204
      res.end()
      res.end('late')
      res.write('later')
    })
    expect(sent.status).toBe(204)
    expect(seen.completed).toHaveLength(1)
    expect(seen.completed[0]?.body).toEqual(new Uint8Array(0))
  })

  it('sends a body over the cap unchanged and hands it over as not captured', async () => {
    const { handle, seen } = recorder(10)
    const sent = await serveOnce(handle, (res) => {
      res.write('0123456789')
      res.end('abc')
    })
    expect(sent.body).toBe('0123456789abc')
    expect(seen.completed[0]?.body).toBeUndefined()
  })
})

describe('captureNodeResponse while the store write is pending', () => {
  /** A handle whose store write takes a while, as a remote store's does. */
  function slowRecorder(delay: number) {
    const { handle, seen } = recorder()
    const slow: IdempotencyHandle = {
      maxBodyBytes: handle.maxBodyBytes,
      complete: async (response) => {
        await new Promise((resolve) => setTimeout(resolve, delay))
        await handle.complete(response)
      },
      release: handle.release,
      abandon: handle.abandon,
    }
    return { handle: slow, seen }
  }

  it('commits the response at end(): an error page written over it changes nothing that is sent', async () => {
    const { handle, seen } = slowRecorder(30)
    const sent = await serveOnce(handle, (res) => {
      res.statusCode = 201
      res.setHeader('content-type', 'application/json')
      res.end('{"ok":1}')
      // What an error handler does when it sees headersSent false (Express's finalhandler).
      res.statusCode = 500
      res.statusMessage = 'Internal Server Error'
      res.removeHeader('content-type')
      res.setHeader('content-type', 'text/html; charset=utf-8')
      res.setHeader('content-length', 300)
      res.writeHead(500)
      res.end('<!DOCTYPE html><title>Error</title>', 'utf8')
    })
    expect(sent.status).toBe(201)
    expect(sent.headers.get('content-type')).toBe('application/json')
    expect(sent.body).toBe('{"ok":1}')
    expect(seen.completed).toHaveLength(1)
    expect(seen.completed[0]?.status).toBe(201)
    expect(text(seen.completed[0]?.body)).toBe('{"ok":1}')
  })

  it('destroys the response and releases the key when end() is handed a chunk Node refuses', async () => {
    const { handle, seen } = recorder()
    // Without the catch, Node's ERR_INVALID_ARG_TYPE became an unhandled rejection (the test run fails).
    await expect(
      serveOnce(handle, (res) => {
        res.statusCode = 200
        res.end(123 as never)
      }),
    ).rejects.toThrow(/fetch failed/)
    expect(seen.released).toBe(1)
    expect(seen.completed[0]?.body).toBeUndefined()
  })
})

describe('captureNodeResponse when the connection closes before end()', () => {
  /** Serves `write` on 127.0.0.1, requests it once, and resolves once the response has closed. */
  async function serveAborted(handle: IdempotencyHandle, write: (res: ServerResponse) => void) {
    let closed = () => {}
    const done = new Promise<void>((resolve) => {
      closed = resolve
    })
    const server = createServer((_req, res) => {
      captureNodeResponse(res, handle)
      res.once('close', () => closed())
      write(res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as AddressInfo).port
      await fetch(`http://127.0.0.1:${port}/`).then(
        (res) => res.text(),
        () => undefined,
      )
      await done
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }

  it('releases the key of a response destroyed after the handler started answering', async () => {
    const { handle, seen } = recorder()
    await serveAborted(handle, (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('partial')
      res.destroy()
    })
    expect(seen).toMatchObject({ released: 1, abandoned: 0, completed: [] })
  })

  it('abandons the key of a response closed before the handler wrote anything', async () => {
    const { handle, seen } = recorder()
    await serveAborted(handle, (res) => {
      res.destroy()
    })
    expect(seen).toMatchObject({ released: 0, abandoned: 1, completed: [] })
  })

  it('leaves a response that ended to its store write', async () => {
    const { handle, seen } = recorder()
    await serveAborted(handle, (res) => {
      res.end('done')
    })
    expect(seen).toMatchObject({ released: 0, abandoned: 0 })
    expect(text(seen.completed[0]?.body)).toBe('done')
  })
})
