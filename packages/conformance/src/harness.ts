import type { Authenticator, Authorizer, DecisionSink, IdempotencyLayer } from '@zerotrust/core'
import type { TestRequest, TestResponse } from '@zerotrust/testkit'

export { sendRaw, type TestRequest, type TestResponse } from '@zerotrust/testkit'

/**
 * What every adapter's mount function receives. The app it builds must serve exactly these routes:
 *
 * - `GET /health`: no authentication at all (the framework's idiomatic opt-out); 200 `{ "ok": true }`.
 * - `GET /orders`: authenticated, then `requireScopes('orders:read')`; 200 `{ "auth": <the Auth the
 *   handler sees where the framework's users look for it> }`.
 * - `POST /orders`: authenticated, then `requireScopes('orders:write')`; 201 `{ "created": true }`.
 * - `GET /orders/:id`: authenticated; the handler throws
 *   `new ZeroTrustError('access_denied', 'the order belongs to someone else', { reason: 'not_owner' })`,
 *   which the adapter's error path renders (403).
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
   * An idempotency layer. When given, the app also serves `POST /payments`: authenticated, then
   * `idempotent(idempotency)`, then the handler of `paymentService()` (idempotency-scenarios.ts), whose
   * answer (status, headers, JSON body) the framework sends.
   */
  readonly idempotency?: IdempotencyLayer
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
    new Request(`http://127.0.0.1${request.path}`, { method: request.method, headers }),
  )
  const out: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    out[name] = value
  })
  return { status: response.status, headers: out, body: await response.text() }
}
