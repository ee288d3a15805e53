import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The only interface test servers listen on. */
export const loopback = '127.0.0.1'

/** Listens on 127.0.0.1 with a port the OS chooses, and resolves with the server's origin. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, loopback, () => {
      server.off('error', reject)
      const { port } = server.address() as AddressInfo
      resolve(`http://${loopback}:${port}`)
    })
  })
}

/** Stops accepting connections, ends open ones (keep-alive included) and resolves once closed. */
export function close(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve()
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)))
    server.closeAllConnections()
  })
}
