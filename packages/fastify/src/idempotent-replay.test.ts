// How idempotent() on Fastify stores a response and sends it again: a body an onSend hook encoded, and
// the statuses that carry no body. Each guards a finding of the security review of idempotent().
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync, gzipSync } from 'node:zlib'
// The adapter depends on core only; the layer is a dev dependency of its tests.
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import Fastify, { type FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { idempotent } from './index.js'

interface RawReply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer
}

/** POSTs with node:http, which (unlike fetch) hands over the bytes as sent, still encoded. */
function post(app: FastifyInstance, path: string, headers: Record<string, string>): Promise<RawReply> {
  const { port } = app.server.address() as AddressInfo
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: 'POST', agent: false, headers },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

describe('idempotent() on Fastify: the stored response and its replay', () => {
  it('replays a body an onSend hook compressed once, with its content-encoding and vary', async () => {
    let runs = 0
    const app = Fastify()
    // What @fastify/compress does for a buffered payload (not a dependency here): encode in onSend
    // unless the reply is encoded already, and say so in content-encoding and vary.
    app.addHook('onSend', async (request, reply, payload) => {
      if (!String(request.headers['accept-encoding'] ?? '').includes('gzip')) return payload
      const encoding = reply.getHeader('content-encoding')
      if (encoding !== undefined && encoding !== 'identity') return payload
      reply.header('content-encoding', 'gzip')
      reply.header('vary', 'accept-encoding')
      reply.removeHeader('content-length')
      return gzipSync(typeof payload === 'string' ? payload : (payload as Buffer))
    })
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    app.post('/p', { preHandler: idempotent(layer) }, async () => {
      runs += 1
      return { id: 1, note: 'x'.repeat(50) }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const headers = { 'idempotency-key': '"k1"', 'accept-encoding': 'gzip' }
      const first = await post(app, '/p', headers)
      const replay = await post(app, '/p', headers)
      expect(first.headers['content-encoding']).toBe('gzip')
      expect(replay.status).toBe(200)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.headers['content-encoding']).toBe('gzip')
      expect(replay.headers.vary).toBe('accept-encoding')
      expect(replay.body).toEqual(first.body)
      expect(JSON.parse(gunzipSync(replay.body).toString('utf8'))).toEqual({ id: 1, note: 'x'.repeat(50) })
      expect(runs).toBe(1)
    } finally {
      await app.close()
    }
  })

  it('replays a stored 204 and 304 without a body or a Content-Length', async () => {
    const app = Fastify()
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    app.post<{ Params: { status: string } }>(
      '/:status',
      { preHandler: idempotent(layer) },
      async (request, reply) => reply.header('etag', '"v1"').code(Number(request.params.status)).send(),
    )
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      for (const status of [204, 304]) {
        await post(app, `/${status}`, { 'idempotency-key': '"k1"' })
        const replay = await post(app, `/${status}`, { 'idempotency-key': '"k1"' })
        expect(replay.status).toBe(status)
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(replay.headers.etag).toBe('"v1"')
        expect(replay.headers['content-length']).toBeUndefined()
        expect(replay.body.byteLength).toBe(0)
      }
    } finally {
      await app.close()
    }
  })
})
