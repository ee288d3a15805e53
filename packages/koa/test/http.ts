import { createServer, type RequestListener, type Server } from 'node:http'

/** A real HTTP server on 127.0.0.1 with an OS-chosen port. */
export async function listen(handler: RequestListener, options: { maxHeaderSize?: number } = {}) {
  const server: Server = createServer(options, handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
