import type { DecisionEvent } from '@zerotrust/core'
import type { TestRequest } from './harness.js'

/**
 * What a mount's `POST /payments` handler answers: the framework writes it as JSON, streams `chunks`, or
 * sends no body at all.
 */
export interface PaymentAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** `undefined` for a status that carries no body (`status=204`): the framework's own empty answer. */
  readonly body: { readonly payment: number; readonly amount: string | null } | undefined
  /** When set, the body the framework streams instead of `body`, one write per chunk. */
  readonly chunks: readonly string[] | undefined
}

const held: (() => void)[] = []
let runs = 0

/** How many `POST /payments?hold=1` handlers are waiting for {@link releaseHeldPayments}. */
export function heldPayments(): number {
  return held.length
}

/** Lets every held handler finish. */
export function releaseHeldPayments(): void {
  for (const release of held.splice(0)) release()
}

/** How many times a payments handler ran, in every app together. */
export function paymentRuns(): number {
  return runs
}

/** The size of a streamed chunk of `stream=<n>` (the body is `n` of them, then `end`). */
const chunkBytes = 100

/**
 * The payments handler every mount wraps in `idempotent(layer)`, one per app: it counts its runs. The
 * query steers it: `hold=1` waits for {@link releaseHeldPayments}; `fail=1` answers 503 (never stored);
 * `throw=1` throws; `stream=<n>` answers 200 with `n` text chunks of {@link chunkBytes} bytes and `end`;
 * `cookie=1` sets a `Set-Cookie`; `status=204`, `205` or `304` answers that status without a body;
 * `amount` is echoed. It sets `location` (replayed) and `x-payment-run` (not in the replay allowlist).
 */
export function paymentService(): (query: URLSearchParams) => Promise<PaymentAnswer> {
  let count = 0
  return async function pay(query) {
    runs += 1
    count += 1
    const payment = count
    if (query.get('hold') === '1') await new Promise<void>((resolve) => held.push(resolve))
    if (query.get('throw') === '1') throw new Error('the payment service failed')
    const headers: Record<string, string> = {
      location: `/payments/${payment}`,
      'x-payment-run': String(payment),
    }
    if (query.get('cookie') === '1') headers['set-cookie'] = `session=s${payment}; Path=/`
    const bodiless = Number(query.get('status'))
    if (bodiless === 204 || bodiless === 205 || bodiless === 304) {
      return { status: bodiless, headers, body: undefined, chunks: undefined }
    }
    const body = { payment, amount: query.get('amount') }
    const stream = query.get('stream')
    if (stream !== null) {
      headers['content-type'] = 'text/plain; charset=utf-8'
      const chunks = Array.from({ length: Number(stream) }, (_, i) =>
        `chunk ${i} of payment ${payment}\n`.padEnd(chunkBytes, '.'),
      )
      return { status: 200, headers, body, chunks: [...chunks, 'end'] }
    }
    const status = query.get('fail') === '1' ? 503 : 201
    return { status, headers, body, chunks: undefined }
  }
}

/** One exchange of an idempotency scenario. */
export interface IdempotencyStep {
  /** The request: a path under `/payments`, a key (sent as is), and the caller's subject. */
  readonly path: string
  readonly key?: string
  /** A body, sent as is with `Content-Type: application/json` unless `type` says otherwise. */
  readonly body?: string
  /** The `Content-Type` of `body`. */
  readonly type?: string
  /** `null` sends no token at all. */
  readonly subject?: string | null
  readonly status: number
  /** Whether the answer must carry `Idempotent-Replayed: true`. */
  readonly replayed?: boolean
  /** The index of an earlier step whose body this answer must equal byte for byte. */
  readonly sameBodyAs?: number
  /** The index of an earlier step whose body this answer must differ from. */
  readonly otherBodyThan?: number
  /** The problem's `code`, for an error. */
  readonly code?: string
  readonly retryAfter?: boolean
  /** Sent without waiting for its answer; the next step goes once its handler is running (`hold=1`). */
  readonly background?: boolean
  /** Whether the answer must carry a `Set-Cookie`. */
  readonly cookie?: boolean
  /** The length of the answer's body, in bytes. */
  readonly bytes?: number
  /**
   * Whether the answer must carry no body (RFC 9110 §6.4.1): empty, a `Content-Length` of 0 at most
   * (§8.6), and a replay framed as the first answer was.
   */
  readonly bodiless?: boolean
}

/** A sequence of exchanges every adapter must answer identically, with the idempotency events they report. */
export interface IdempotencyScenario {
  readonly name: string
  readonly steps: readonly IdempotencyStep[]
  /** `outcome:code:reason` of the `idempotency` layer's decision events, in order. */
  readonly events: readonly string[]
  /** How many times the payments handler ran. */
  readonly runs: number
  /**
   * `down` sends the steps to the app whose idempotency store fails every call; `forgetful` to the app
   * whose store claims keys but fails to store any response.
   */
  readonly store?: 'down' | 'forgetful'
  /** The `status` of each `idempotency` event, in order, where the scenario pins it. */
  readonly statuses?: readonly (number | undefined)[]
  /**
   * The frameworks (by their name in `mounts/index.ts`) the scenario runs on, where it depends on
   * their defaults (router matching, body parsing); every framework when absent.
   */
  readonly frameworks?: readonly string[]
}

/** The decision events of the `idempotency` layer, as `outcome:code:reason`. */
export function idempotencyEvents(events: readonly DecisionEvent[]): string[] {
  return events.filter((e) => e.layer === 'idempotency').map((e) => `${e.outcome}:${e.code}:${e.reason}`)
}

/** The request of a step, with the caller's token. */
export async function stepRequest(
  step: IdempotencyStep,
  token: (subject: string) => Promise<string>,
): Promise<TestRequest> {
  const headers: [string, string][] = []
  if (step.subject !== null) headers.push(['Authorization', `Bearer ${await token(step.subject ?? 'alice')}`])
  if (step.key !== undefined) headers.push(['Idempotency-Key', step.key])
  if (step.body === undefined) return { method: 'POST', path: step.path, headers }
  headers.push(['Content-Type', step.type ?? 'application/json'])
  return { method: 'POST', path: step.path, headers, body: step.body }
}

export const idempotencyScenarios: readonly IdempotencyScenario[] = [
  {
    name: 'a retry replays the stored status, allowlisted headers and exact body',
    steps: [
      { path: '/payments?amount=5', key: '"replay-1"', status: 201, replayed: false },
      { path: '/payments?amount=5', key: '"replay-1"', status: 201, replayed: true, sameBodyAs: 0 },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed'],
    runs: 1,
  },
  {
    name: 'a request without a key is refused with 400 where keys are required',
    steps: [{ path: '/payments', status: 400, code: 'invalid_idempotency_key' }],
    events: ['deny:invalid_idempotency_key:missing_key'],
    runs: 0,
  },
  {
    name: 'an unquoted key is refused with 400 key_not_quoted (RFC 8941 sf-string; issue 20)',
    steps: [{ path: '/payments', key: 'replay-2', status: 400, code: 'invalid_idempotency_key' }],
    events: ['deny:invalid_idempotency_key:key_not_quoted'],
    runs: 0,
  },
  {
    name: 'the key reused for another request is refused with 422',
    steps: [
      { path: '/payments?amount=5', key: '"reuse-1"', status: 201 },
      { path: '/payments?amount=7', key: '"reuse-1"', status: 422, code: 'idempotency_key_reused' },
    ],
    events: ['allow:ok:claimed', 'deny:idempotency_key_reused:fingerprint_mismatch'],
    runs: 1,
  },
  {
    name: 'a duplicate sent while the first runs gets 409 with Retry-After, and the first completes',
    steps: [
      { path: '/payments?hold=1', key: '"busy-1"', status: 201, background: true },
      {
        path: '/payments?hold=1',
        key: '"busy-1"',
        status: 409,
        code: 'idempotency_conflict',
        retryAfter: true,
      },
    ],
    events: ['allow:ok:claimed', 'deny:idempotency_conflict:in_flight'],
    runs: 1,
  },
  {
    name: 'a 5xx is not stored: the retry runs the handler again',
    steps: [
      { path: '/payments?fail=1', key: '"fail-1"', status: 503, replayed: false },
      { path: '/payments?fail=1', key: '"fail-1"', status: 503, replayed: false, otherBodyThan: 0 },
    ],
    events: ['allow:ok:claimed', 'allow:ok:claimed'],
    runs: 2,
  },
  {
    name: "another caller using the same key gets a run of its own, nothing of the first caller's",
    steps: [
      { path: '/payments?amount=5', key: '"shared-1"', subject: 'alice', status: 201 },
      {
        path: '/payments?amount=5',
        key: '"shared-1"',
        subject: 'bob',
        status: 201,
        replayed: false,
        otherBodyThan: 0,
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:claimed'],
    runs: 2,
  },
  {
    name: 'an unauthenticated request is refused before any key is looked at',
    steps: [{ path: '/payments', key: '"anon-1"', subject: null, status: 401 }],
    events: [],
    runs: 0,
  },
  {
    name: 'the same JSON payload with its members in another order replays; another payload is refused',
    steps: [
      { path: '/payments', key: '"order-1"', body: '{"amount":5,"currency":"EUR"}', status: 201 },
      {
        path: '/payments',
        key: '"order-1"',
        body: '{ "currency": "EUR",\n  "amount": 5 }',
        status: 201,
        replayed: true,
        sameBodyAs: 0,
      },
      {
        path: '/payments',
        key: '"order-1"',
        body: '{"amount":7,"currency":"EUR"}',
        status: 422,
        code: 'idempotency_key_reused',
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed', 'deny:idempotency_key_reused:fingerprint_mismatch'],
    runs: 1,
  },
  {
    name: 'a handler that throws releases the key: the retry runs it again',
    steps: [
      { path: '/payments?throw=1', key: '"throw-1"', status: 500, replayed: false },
      { path: '/payments?throw=1', key: '"throw-1"', status: 500, replayed: false },
    ],
    events: ['allow:ok:claimed', 'allow:ok:claimed'],
    runs: 2,
  },
  {
    name: 'a streamed body within the cap is captured and replayed byte for byte',
    steps: [
      { path: '/payments?stream=3', key: '"stream-1"', status: 200, replayed: false, bytes: 303 },
      {
        path: '/payments?stream=3',
        key: '"stream-1"',
        status: 200,
        replayed: true,
        sameBodyAs: 0,
        bytes: 303,
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed'],
    runs: 1,
  },
  {
    name: 'a streamed body over the cap is sent whole but not stored: the key is released',
    steps: [
      { path: '/payments?stream=100', key: '"stream-2"', status: 200, replayed: false, bytes: 10_003 },
      {
        path: '/payments?stream=100',
        key: '"stream-2"',
        status: 200,
        replayed: false,
        otherBodyThan: 0,
        bytes: 10_003,
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:claimed'],
    runs: 2,
  },
  {
    name: 'a 204 answer is replayed with its status and headers and without a body (issue 13)',
    steps: [
      { path: '/payments?status=204', key: '"bodiless-204"', status: 204, replayed: false, bodiless: true },
      {
        path: '/payments?status=204',
        key: '"bodiless-204"',
        status: 204,
        replayed: true,
        sameBodyAs: 0,
        bodiless: true,
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed'],
    runs: 1,
  },
  {
    name: 'a 205 answer is replayed with its status and headers and without a body (issue 13)',
    steps: [
      { path: '/payments?status=205', key: '"bodiless-205"', status: 205, replayed: false, bodiless: true },
      {
        path: '/payments?status=205',
        key: '"bodiless-205"',
        status: 205,
        replayed: true,
        sameBodyAs: 0,
        bodiless: true,
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed'],
    runs: 1,
  },
  {
    name: 'a 304 answer is replayed with its status and headers and without a body (issue 13)',
    steps: [
      { path: '/payments?status=304', key: '"bodiless-304"', status: 304, replayed: false, bodiless: true },
      {
        path: '/payments?status=304',
        key: '"bodiless-304"',
        status: 304,
        replayed: true,
        sameBodyAs: 0,
        bodiless: true,
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed'],
    runs: 1,
  },
  {
    name: 'a Set-Cookie is never replayed by default',
    steps: [
      { path: '/payments?cookie=1', key: '"cookie-1"', status: 201, replayed: false, cookie: true },
      {
        path: '/payments?cookie=1',
        key: '"cookie-1"',
        status: 201,
        replayed: true,
        sameBodyAs: 0,
        cookie: false,
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed'],
    runs: 1,
  },
  {
    name: 'a store that is down fails closed with 503 and the handler never runs',
    store: 'down',
    steps: [
      {
        path: '/payments',
        key: '"down-1"',
        status: 503,
        code: 'dependency_unavailable',
        retryAfter: true,
      },
    ],
    events: ['error:dependency_unavailable:store_unavailable'],
    runs: 0,
  },
  {
    name: 'a retry to a path the router matches in another case or with a trailing slash replays (issue 12)',
    // Express's and Koa's routers match /payments/ and /Payments to the /payments route by default;
    // Fastify's and Hono's answer 404 for them, so there is nothing to scope there.
    frameworks: ['express', 'koa'],
    steps: [
      { path: '/payments?amount=5', key: '"route-1"', status: 201, replayed: false },
      { path: '/payments/?amount=5', key: '"route-1"', status: 201, replayed: true, sameBodyAs: 0 },
      { path: '/Payments?amount=5', key: '"route-1"', status: 201, replayed: true, sameBodyAs: 0 },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed', 'allow:ok:replayed'],
    runs: 1,
  },
  {
    name: 'a body the JSON parser leaves unread for its media type is refused with 415, never 500 (issue 12)',
    // The JSON body parser of the mount (express.json(), a Koa parser) skips a text/plain body.
    frameworks: ['express', 'koa'],
    steps: [
      {
        path: '/payments',
        key: '"text-1"',
        body: 'transfer 10 EUR to alice',
        type: 'text/plain',
        status: 415,
        code: 'unsupported_media_type',
      },
    ],
    events: ['deny:unsupported_media_type:body_not_parsed'],
    statuses: [415],
    runs: 0,
  },
  {
    name: 'a text/plain body the framework reads is fingerprinted as its text (issue 12)',
    // Fastify parses text/plain into a string; Hono hands the layer the bytes.
    frameworks: ['fastify', 'hono (node-server)', 'hono (app.request)'],
    steps: [
      { path: '/payments', key: '"text-2"', body: 'transfer 10 EUR', type: 'text/plain', status: 201 },
      {
        path: '/payments',
        key: '"text-2"',
        body: 'transfer 10 EUR',
        type: 'text/plain',
        status: 201,
        replayed: true,
        sameBodyAs: 0,
      },
      {
        path: '/payments',
        key: '"text-2"',
        body: 'transfer 9999 EUR',
        type: 'text/plain',
        status: 422,
        code: 'idempotency_key_reused',
      },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed', 'deny:idempotency_key_reused:fingerprint_mismatch'],
    runs: 1,
  },
  {
    name: 'a key far longer than any key is refused with 400 before it is read (issue 12)',
    // 12 KiB of spaces inside a quote: under Node's 16 KiB header limit, and a backtracking trim's worst case.
    steps: [
      {
        path: '/payments',
        key: `"${' '.repeat(12 * 1024)}x"`,
        status: 400,
        code: 'invalid_idempotency_key',
      },
    ],
    events: ['deny:invalid_idempotency_key:key_too_long'],
    statuses: [400],
    runs: 0,
  },
  {
    name: 'a store that fails to keep an answer reports the status the client received, not 503 (issue 12)',
    store: 'forgetful',
    steps: [{ path: '/payments?amount=5', key: '"forget-1"', status: 201, replayed: false }],
    events: ['allow:ok:claimed', 'error:dependency_unavailable:complete_failed'],
    statuses: [undefined, 201],
    runs: 1,
  },
]
