import { request as httpRequest } from 'node:http'
import type { Authenticator, Authorizer, DecisionSink, IdempotencyLayer } from '@zerotrust/core'
import type { TestResponse } from '@zerotrust/testkit'
import { type TestRequest as HeadersOnlyRequest, sendRaw as sendHeadersOnly } from '@zerotrust/testkit'

export type { TestResponse } from '@zerotrust/testkit'

/** A request of the suite: the testkit's hand-written request, with an optional body sent as is. */
export interface TestRequest extends HeadersOnlyRequest {
  readonly body?: string
}

/**
 * Sends `request` to 127.0.0.1:`port`. Without a body, over a raw socket (the testkit's `sendRaw`: headers
 * may repeat, nothing is normalized); with one, through `node:http` with its `Content-Length`.
 */
export function sendRaw(port: number, request: TestRequest): Promise<TestResponse> {
  const { body } = request
  if (body === undefined) return sendHeadersOnly(port, request)
  const headers: Record<string, string[]> = {}
  for (const [name, value] of request.headers) {
    const values = headers[name.toLowerCase()] ?? []
    headers[name.toLowerCase()] = [...values, value]
  }
  headers['content-length'] = [String(Buffer.byteLength(body))]
  return new Promise((resolve, reject) => {
    const sent = httpRequest(
      { host: '127.0.0.1', port, method: request.method, path: request.path, headers, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          const out: Record<string, string> = {}
          for (const [name, values] of Object.entries(res.headersDistinct))
            out[name] = values?.join(', ') ?? ''
          resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks).toString('utf8') })
        })
      },
    )
    sent.on('timeout', () => sent.destroy(new Error('no answer within 10 s')))
    sent.on('error', reject)
    sent.end(body)
  })
}

/**
 * What every adapter's mount function receives. The app it builds must serve exactly these routes:
 *
 * - `GET /health`: no authentication at all (the framework's idiomatic opt-out); 200 `{ "ok": true }`.
 * - `GET /orders`: authenticated, then `requireScopes('orders:read')`; 200 `{ "auth": <the Auth the
 *   handler sees where the framework's users look for it> }`.
 * - `POST /orders`: authenticated, then `requireScopes('orders:write')`; 201 `{ "created": true }`.
 * - `GET /orders/:id`: authenticated; the handler throws
 *   `new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })`,
 *   which the adapter's error path renders (403) and reports once, as the `handler` layer's denial.
 * - `GET /orders/:id/audit`: authenticated; the handler itself runs `requireScopes('orders:audit')`
 *   through core's `runAuthorization` with the request's decision sink (which reports the denial) and
 *   lets the rejection reach the framework's error path, which renders it (403) without reporting it
 *   again.
 *
 * Authentication uses `authenticator`, reports to `onDecision`, with `realm` and `publicOrigin` passed to
 * the adapter as its options.
 */
export interface MountOptions {
  readonly authenticator: Authenticator
  readonly onDecision: DecisionSink
  readonly realm: string
  readonly publicOrigin: string
  /**
   * A Cedar authorizer. When given, the app also serves, each authenticated and protected by it at route
   * level: `GET /tenants/:tenant/orders/:orderId` (200 `{ "orderId": … }`) and `POST /v1/charges` (201
   * `{ "charged": true }`).
   */
  readonly cedar?: Authorizer
  /**
   * An idempotency layer. When given, the app also serves `POST /payments`: authenticated, then the
   * framework's JSON body parser (none on Fastify and Hono, which read bodies themselves), then
   * `idempotent(idempotency)`, then the handler of `paymentService()` (idempotency-scenarios.ts), called
   * with the query. The framework sends its answer: status and headers as given, then the body as JSON,
   * or, when the answer has `chunks`, those chunks streamed one by one. When the service throws, the
   * error goes to the framework's error path (a 500).
   */
  readonly idempotency?: IdempotencyLayer
  /**
   * When given, the framework's usual CORS middleware (`cors`, `@fastify/cors`, `@koa/cors`,
   * `hono/cors`) runs before `authenticate()`, allowing `origin` and exposing `exposedHeaders`: the
   * adapters must add their own response headers (`DPoP-Nonce`) to that list, not replace it.
   */
  readonly cors?: { readonly origin: string; readonly exposedHeaders: readonly string[] }
}

/** An app an adapter mounted, reachable through `send`. */
export interface MountedApp {
  send(request: TestRequest): Promise<TestResponse>
  close(): Promise<void>
}

/** Builds and starts one framework's app; adding a framework to the suite means adding one of these. */
export type Mount = (options: MountOptions) => Promise<MountedApp>

/** Sends a request through a Fetch-API handler (Hono's `app.request`, for instance), without a server. */
export async function sendFetch(
  handle: (request: Request) => Response | Promise<Response>,
  request: TestRequest,
): Promise<TestResponse> {
  const headers = new Headers()
  for (const [name, value] of request.headers) headers.append(name, value)
  const response = await handle(
    new Request(`http://127.0.0.1${request.path}`, {
      method: request.method,
      headers,
      ...(request.body === undefined ? {} : { body: request.body }),
    }),
  )
  const out: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    out[name] = value
  })
  return { status: response.status, headers: out, body: await response.text() }
}
