import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { JWK } from 'jose'

/**
 * A real identity-provider stand-in on 127.0.0.1: OIDC discovery and a JWKS, with switches for
 * rotation, outages and slowness, and a count of every request.
 */
export async function issuerServer(
  keys: JWK[],
  init: { metadata?: 'oidc' | 'oauth'; issuerPath?: string } = {},
) {
  const state = { keys, down: false, delayMs: 0, metadataIssuer: undefined as string | undefined }
  const requests: string[] = []
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '')
    const answer = () => {
      if (state.down) {
        res.writeHead(503).end('upstream maintenance: secret-internal-detail')
        return
      }
      const send = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      const path = init.issuerPath ?? ''
      const oidc = `${path}/.well-known/openid-configuration`
      const oauth = `/.well-known/oauth-authorization-server${path}`
      if (req.url === '/jwks.json') send({ keys: state.keys })
      else if (
        (req.url === oidc && init.metadata !== 'oauth') ||
        (req.url === oauth && init.metadata === 'oauth')
      ) {
        send({ issuer: state.metadataIssuer ?? issuer, jwks_uri: `${origin}/jwks.json` })
      } else res.writeHead(404).end()
    }
    if (state.delayMs > 0) setTimeout(answer, state.delayMs)
    else answer()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const issuer = `${origin}${init.issuerPath ?? ''}/`
  return {
    issuer,
    jwksUri: `${origin}/jwks.json`,
    requests,
    jwksFetches: () => requests.filter((r) => r === '/jwks.json').length,
    setKeys: (next: JWK[]) => {
      state.keys = next
    },
    setDown: (down: boolean) => {
      state.down = down
    },
    setDelay: (ms: number) => {
      state.delayMs = ms
    },
    setMetadataIssuer: (value: string) => {
      state.metadataIssuer = value
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
