import { createServer, type RequestListener } from 'node:http'
import { close, listen } from './lib/loopback.js'

/** A running test server; see {@link startHttpServer}. */
export interface TestHttpServer {
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** Stops the server, ending open connections (keep-alive included). */
  close(): Promise<void>
}

/**
 * Serves `handler` (an Express app, a Koa `callback()`, any Node request listener) on 127.0.0.1 with a
 * port the OS chooses.
 *
 * @example
 * const server = await startHttpServer(app, { maxHeaderSize: 256 * 1024 })
 * await fetch(`${server.url}/orders`)
 * await server.close()
 */
export async function startHttpServer(
  handler: RequestListener,
  options: { readonly maxHeaderSize?: number } = {},
): Promise<TestHttpServer> {
  const server = createServer(options, handler)
  const url = await listen(server)
  return { port: Number(new URL(url).port), url, close: () => close(server) }
}
