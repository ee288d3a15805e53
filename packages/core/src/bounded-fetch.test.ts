import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchBounded, fetchJson, isBoundedFetchError, readBoundedBody } from './bounded-fetch.js'

const servers: Server[] = []

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    ),
  )
})

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
}

interface Flood {
  /** Bytes the server handed to the socket so far. */
  readonly written: () => number
  /** Resolves when the server saw the client go away. */
  readonly disconnected: Promise<void>
}

/**
 * Streams up to 400 MiB of JSON-looking bytes in 64 KiB chunks, as fast as the client reads them and
 * no faster (it waits for `drain`), and stops when the client goes away.
 */
async function flood(headers: Record<string, string> = {}): Promise<{ url: string; flood: Flood }> {
  let written = 0
  let disconnect: () => void = () => {}
  const disconnected = new Promise<void>((resolve) => {
    disconnect = resolve
  })
  const chunk = Buffer.alloc(64 * 1024, 0x20)
  const url = await serve((_req, res) => {
    let gone = false
    res.on('close', () => {
      gone = true
      disconnect()
    })
    res.writeHead(200, { 'content-type': 'application/json', ...headers })
    res.write('{"keys":[')
    const pump = () => {
      while (!gone && written < 400 * 1024 * 1024) {
        written += chunk.byteLength
        if (!res.write(chunk)) {
          res.once('drain', pump)
          return
        }
      }
      if (!gone) res.end(']}')
    }
    pump()
  })
  return { url, flood: { written: () => written, disconnected } }
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('the fetch succeeded')
    },
    (error: unknown) => error,
  )

const limit = 512 * 1024

describe('fetchBounded: a body over the limit is never read whole (issue 12)', () => {
  it('stops a chunked answer without content-length after about the limit and drops the connection', async () => {
    const { url, flood: server } = await flood()
    const error = await failure(fetchJson(url, { maxBytes: limit, timeout: 10_000 }))
    expect(isBoundedFetchError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'ERR_FETCH_TOO_LARGE' })
    await server.disconnected
    // The limit plus what socket buffers held: megabytes at most, never the 400 MiB on offer.
    expect(server.written()).toBeLessThan(32 * 1024 * 1024)
  })

  it('refuses a declared content-length over the limit before reading the body', async () => {
    const { url, flood: server } = await flood({ 'content-length': String(400 * 1024 * 1024) })
    await expect(fetchBounded(url, { maxBytes: limit, timeout: 10_000 })).rejects.toMatchObject({
      code: 'ERR_FETCH_TOO_LARGE',
    })
    await server.disconnected
    expect(server.written()).toBeLessThan(32 * 1024 * 1024)
  })

  it('counts the bytes of a body whose content-length lies (says less than it sends)', async () => {
    let pulled = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 64 * 1024
        controller.enqueue(new Uint8Array(64 * 1024))
      },
    })
    const lying: typeof fetch = async () =>
      new Response(endless, { status: 200, headers: { 'content-length': '10' } })
    await expect(fetchJson('http://127.0.0.1:1/', { maxBytes: limit, fetch: lying })).rejects.toMatchObject({
      code: 'ERR_FETCH_TOO_LARGE',
    })
    expect(pulled).toBeLessThanOrEqual(limit + 4 * 64 * 1024)
  })

  it('reads a body of exactly the limit', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(limit - 10) })
    const url = await serve((_req, res) => res.end(body))
    const { body: bytes } = await fetchBounded(url, { maxBytes: Buffer.byteLength(body) })
    expect(bytes.byteLength).toBe(Buffer.byteLength(body))
  })
})

describe('fetchBounded: time and aborts', () => {
  it('times out a body that stalls after its first bytes', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"keys":')
    })
    const started = performance.now()
    await expect(fetchJson(url, { maxBytes: limit, timeout: 100 })).rejects.toMatchObject({
      code: 'ERR_FETCH_TIMEOUT',
    })
    expect(performance.now() - started).toBeLessThan(5000)
  })

  it('times out a custom fetch that ignores the abort signal', async () => {
    const deaf: typeof fetch = () => new Promise<Response>(() => {})
    await expect(
      fetchBounded('http://127.0.0.1:1/', { maxBytes: limit, timeout: 50, fetch: deaf }),
    ).rejects.toMatchObject({ code: 'ERR_FETCH_TIMEOUT' })
  })

  it('times out a custom body stream that never ends, and cancels it', async () => {
    let cancelled = false
    const stuck = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{'))
      },
      cancel() {
        cancelled = true
      },
    })
    const deaf: typeof fetch = async () => new Response(stuck)
    await expect(
      fetchJson('http://127.0.0.1:1/', { maxBytes: limit, timeout: 50, fetch: deaf }),
    ).rejects.toMatchObject({ code: 'ERR_FETCH_TIMEOUT' })
    expect(cancelled).toBe(true)
  })

  it("reports the caller's abort as such", async () => {
    const url = await serve(() => {})
    const caller = new AbortController()
    setTimeout(() => caller.abort(), 20)
    await expect(
      fetchBounded(url, { maxBytes: limit, timeout: 10_000, signal: caller.signal }),
    ).rejects.toMatchObject({ code: 'ERR_FETCH_ABORTED' })
  })
})

describe('fetchJson', () => {
  it('returns a JSON object', async () => {
    const url = await serve((_req, res) => res.end('{"keys":[]}'))
    await expect(fetchJson(url, { maxBytes: limit })).resolves.toEqual({ keys: [] })
  })

  it.each([
    ['a status other than 200', 404, '{}', { code: 'ERR_FETCH_STATUS', status: 404 }],
    ['a body that is not JSON', 200, '<html>', { code: 'ERR_FETCH_NOT_JSON' }],
    ['a JSON array', 200, '[]', { code: 'ERR_FETCH_NOT_JSON' }],
    ['bytes that are not UTF-8', 200, Buffer.from([0x7b, 0xff, 0x7d]), { code: 'ERR_FETCH_NOT_JSON' }],
  ])('refuses %s', async (_name, status, body, expected) => {
    const url = await serve((_req, res) => {
      res.statusCode = status
      res.end(body)
    })
    await expect(fetchJson(url, { maxBytes: limit })).rejects.toMatchObject(expected)
  })

  it('refuses a redirect by default, so the answer comes from the checked endpoint', async () => {
    const target = await serve((_req, res) => res.end('{}'))
    const url = await serve((_req, res) => {
      res.writeHead(302, { location: target })
      res.end()
    })
    await expect(fetchJson(url, { maxBytes: limit })).rejects.toMatchObject({ code: 'ERR_FETCH_NETWORK' })
  })

  it('reports a refused connection as a network failure, with our message', async () => {
    const url = await serve(() => {})
    const port = new URL(url).port
    await new Promise<void>((resolve) => (servers.pop() as Server).close(() => resolve()))
    const error = await failure(fetchJson(`http://127.0.0.1:${port}/`, { maxBytes: limit }))
    expect(error).toMatchObject({ code: 'ERR_FETCH_NETWORK', message: 'the request failed' })
  })
})

describe('readBoundedBody', () => {
  it('reads an empty body', async () => {
    expect((await readBoundedBody(new Response(null), 10)).byteLength).toBe(0)
  })

  it('refuses a body one byte over the limit', async () => {
    await expect(readBoundedBody(new Response('12345678901'), 10)).rejects.toMatchObject({
      code: 'ERR_FETCH_TOO_LARGE',
    })
  })
})
