import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'

/** A Hono app served by @hono/node-server on 127.0.0.1 with an OS-chosen port. */
export async function serveApp(
  app: { readonly fetch: Parameters<typeof serve>[0]['fetch'] },
  options: { maxHeaderSize?: number } = {},
) {
  const server = await new Promise<Server>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', serverOptions: options }, () =>
      resolve(started as Server),
    )
  })
  const { port } = server.address() as AddressInfo
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
