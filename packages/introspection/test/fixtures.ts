import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type RequestLike, renderError } from '@zerotrust/core'

/** A request carrying `Authorization: Bearer <token>` (or any other header values). */
export function bearer(token: string, scheme = 'Bearer'): RequestLike {
  return headers({ authorization: [`${scheme} ${token}`] })
}

export function headers(values: Record<string, string[]>, target = '/orders'): RequestLike {
  return {
    method: 'GET',
    origin: undefined,
    target,
    path: target,
    headerValues: (name) => values[name.toLowerCase()] ?? [],
  }
}

/** A handler of the fake introspection endpoint; it gets the form body already read. */
export type Handler = (req: IncomingMessage, res: ServerResponse, form: URLSearchParams) => void

/** A local introspection endpoint on 127.0.0.1 that answers what the test says, and counts requests. */
export interface FakeEndpoint {
  readonly origin: string
  readonly endpoint: string
  /** Introspection requests received so far. */
  readonly count: number
  /** The form bodies received, in order. */
  readonly forms: readonly URLSearchParams[]
  /** The authorization headers received, in order. */
  readonly authorizations: readonly (string | undefined)[]
  handle(handler: Handler): void
  close(): Promise<void>
}

export async function startFakeEndpoint(): Promise<FakeEndpoint> {
  let handler: Handler = (_req, res) => json(res, { active: false })
  const forms: URLSearchParams[] = []
  const authorizations: (string | undefined)[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString())
      forms.push(form)
      authorizations.push(req.headers.authorization)
      handler(req, res, form)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    endpoint: `${origin}/introspect`,
    get count() {
      return forms.length
    },
    forms,
    authorizations,
    handle(next) {
      handler = next
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

export function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

/** Runs `work` and renders its rejection as an adapter would. */
export async function rejection(work: unknown) {
  try {
    await work
  } catch (error) {
    const { status, headers } = renderError(error)
    const { code, reason } = error as { code: string; reason?: string }
    return { code, reason, status, headers }
  }
  throw new Error('the request was accepted')
}

/** Seconds since the epoch. */
export const now = () => Math.floor(Date.now() / 1000)
