import { connect } from 'node:net'

/** A request written by hand; `headers` may repeat a name. */
export interface TestRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  readonly path: string
  readonly headers: readonly (readonly [string, string])[]
}

/** What came back: header names lower-case, the body as text. */
export interface TestResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * Sends a request written by hand over a socket to 127.0.0.1:`port`, so that a header can repeat (fetch
 * would merge the values) and nothing is normalized on the way.
 */
export function sendRaw(port: number, request: TestRequest): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')))
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('end', () => resolve(parseResponse(Buffer.concat(chunks))))
    const lines = [
      `${request.method} ${request.path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: close',
      ...(request.method === 'POST' ? ['Content-Length: 0'] : []),
      ...request.headers.map(([name, value]) => `${name}: ${value}`),
    ]
    // Write without half-closing: a server may drop a request whose client already sent FIN.
    socket.write(`${lines.join('\r\n')}\r\n\r\n`)
  })
}

function parseResponse(raw: Buffer): TestResponse {
  const text = raw.toString('utf8')
  const split = text.indexOf('\r\n\r\n')
  const [statusLine = '', ...headerLines] = text.slice(0, split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  let body = text.slice(split + 4)
  if (headers['transfer-encoding']?.includes('chunked')) body = dechunk(body)
  return { status: Number(statusLine.split(' ')[1]), headers, body }
}

function dechunk(body: string): string {
  let out = ''
  let rest = body
  for (;;) {
    const eol = rest.indexOf('\r\n')
    const size = Number.parseInt(rest.slice(0, eol), 16)
    if (!Number.isFinite(size) || size === 0) return out
    out += rest.slice(eol + 2, eol + 2 + size)
    rest = rest.slice(eol + 2 + size + 2)
  }
}
