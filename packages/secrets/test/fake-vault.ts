// A local stand-in for Vault's HTTP API, written from its documentation, because no Vault server can be
// installed where these tests run. It implements only what @zerotrust/secrets calls:
//   GET  /v1/<mount>/data/<path>[?version=N]  KV v2 read   developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
//   GET  /v1/auth/token/lookup-self           token lookup developer.hashicorp.com/vault/api-docs/auth/token
//   POST /v1/auth/token/renew-self            token renewal
//   POST /v1/auth/kubernetes/login            Kubernetes auth developer.hashicorp.com/vault/api-docs/auth/kubernetes
// with X-Vault-Token and X-Vault-Namespace headers and `{ "errors": [...] }` error bodies. Further
// engines plug in through `engines` (test/vault-database-server.ts: the database secrets engine).
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface TokenInfo {
  ttl: number
  renewable: boolean
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly search: string
  readonly token: string | undefined
  readonly namespace: string | undefined
  /** When the request arrived (`Date.now()`). */
  readonly at: number
}

/** A request an engine may answer, once the token is known to be valid. */
export interface EngineRequest {
  readonly method: string
  readonly path: string
  readonly body: Record<string, unknown>
}

/** An engine's answer; no body is a 204. */
export interface EngineReply {
  readonly status: number
  readonly body?: unknown
}

/** Answers the requests it serves, `undefined` for the others. */
export type VaultEngine = (request: EngineRequest) => Promise<EngineReply | undefined>

export class FakeVault {
  readonly tokens = new Map<string, TokenInfo>()
  /** `mount/path` → versions (1-based). */
  readonly kv = new Map<string, Record<string, unknown>[]>()
  readonly requests: RecordedRequest[] = []
  /** When set, every request is answered 503 with this text in the body (as a sealed Vault does). */
  down: string | undefined
  /** The namespace requests must name, when set. */
  namespace: string | undefined
  kubernetes = { role: 'orders', jwt: 'service-account-jwt', ttl: 3600, renewable: true }
  /** Engines asked in turn, after the token is checked; the first that answers wins. */
  readonly engines: VaultEngine[] = []
  url = ''
  private readonly server: Server

  constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => this.reply(res, 500, { errors: ['internal error'] }))
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  put(path: string, data: Record<string, unknown>): number {
    const versions = this.kv.get(path) ?? []
    versions.push(data)
    this.kv.set(path, versions)
    return versions.length
  }

  count(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && r.path === path).length
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vault')
    const token = header(req, 'x-vault-token')
    const namespace = header(req, 'x-vault-namespace')
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      search: url.search,
      token,
      namespace,
      at: Date.now(),
    })
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body =
      chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {}
    if (this.down !== undefined) return this.reply(res, 503, { errors: [this.down] })
    if (this.namespace !== undefined && namespace !== this.namespace) {
      return this.reply(res, 403, { errors: ['permission denied'] })
    }
    if (req.method === 'POST' && url.pathname === '/v1/auth/kubernetes/login') {
      if (body.role !== this.kubernetes.role) return this.reply(res, 400, { errors: ['invalid role name'] })
      if (body.jwt !== this.kubernetes.jwt) return this.reply(res, 403, { errors: ['permission denied'] })
      const minted = `hvs.k8s-${randomUUID()}`
      this.tokens.set(minted, { ttl: this.kubernetes.ttl, renewable: this.kubernetes.renewable })
      return this.reply(res, 200, {
        auth: {
          client_token: minted,
          accessor: randomUUID(),
          policies: ['default', 'orders'],
          lease_duration: this.kubernetes.ttl,
          renewable: this.kubernetes.renewable,
        },
      })
    }
    const info = token === undefined ? undefined : this.tokens.get(token)
    if (info === undefined) return this.reply(res, 403, { errors: ['permission denied'] })
    if (req.method === 'GET' && url.pathname === '/v1/auth/token/lookup-self') {
      return this.reply(res, 200, {
        data: { ttl: info.ttl, renewable: info.renewable, policies: ['default'] },
      })
    }
    if (req.method === 'POST' && url.pathname === '/v1/auth/token/renew-self') {
      if (!info.renewable) return this.reply(res, 400, { errors: ['lease is not renewable'] })
      return this.reply(res, 200, {
        auth: { client_token: token, lease_duration: info.ttl, renewable: info.renewable },
      })
    }
    for (const engine of this.engines) {
      const reply = await engine({ method: req.method ?? '', path: url.pathname, body })
      if (reply !== undefined) return this.reply(res, reply.status, reply.body)
    }
    const kv = /^\/v1\/(.+?)\/data\/(.+)$/.exec(url.pathname)
    if (req.method === 'GET' && kv !== null) {
      const versions = this.kv.get(`${kv[1]}/${kv[2]}`)
      const wanted = url.searchParams.has('version')
        ? Number(url.searchParams.get('version'))
        : versions?.length
      const data = wanted === undefined ? undefined : versions?.[wanted - 1]
      if (data === undefined) return this.reply(res, 404, { errors: [] })
      return this.reply(res, 200, {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: {
          data,
          metadata: {
            created_time: new Date().toISOString(),
            deletion_time: '',
            destroyed: false,
            version: wanted,
          },
        },
        wrap_info: null,
        warnings: null,
        auth: null,
      })
    }
    return this.reply(res, 404, { errors: [] })
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    if (body === undefined) {
      res.writeHead(status).end()
      return
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}
