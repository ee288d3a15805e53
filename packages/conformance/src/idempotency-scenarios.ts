import type { DecisionEvent } from '@zerotrust/core'
import type { TestRequest } from './harness.js'

/** What a mount's `POST /payments` handler answers: the framework writes it as JSON. */
export interface PaymentAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: { readonly payment: number; readonly amount: string | null }
}

const held: (() => void)[] = []

/** How many `POST /payments?hold=1` handlers are waiting for {@link releaseHeldPayments}. */
export function heldPayments(): number {
  return held.length
}

/** Lets every held handler finish. */
export function releaseHeldPayments(): void {
  for (const release of held.splice(0)) release()
}

/**
 * The payments handler every mount wraps in `idempotent(layer)`, one per app: it counts its runs. The
 * query steers it: `hold=1` waits for {@link releaseHeldPayments}; `fail=1` answers 503 (never stored);
 * `amount` is echoed. It sets `location` (replayed) and `x-payment-run` (not in the replay allowlist).
 */
export function paymentService(): (query: URLSearchParams) => Promise<PaymentAnswer> {
  let runs = 0
  return async function pay(query) {
    runs += 1
    const payment = runs
    if (query.get('hold') === '1') await new Promise<void>((resolve) => held.push(resolve))
    const headers = { location: `/payments/${payment}`, 'x-payment-run': String(payment) }
    const status = query.get('fail') === '1' ? 503 : 201
    return { status, headers, body: { payment, amount: query.get('amount') } }
  }
}

/** One exchange of an idempotency scenario. */
export interface IdempotencyStep {
  /** The request: a path under `/payments`, a key (sent as is), and the caller's subject. */
  readonly path: string
  readonly key?: string
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
}

/** A sequence of exchanges every adapter must answer identically, with the idempotency events they report. */
export interface IdempotencyScenario {
  readonly name: string
  readonly steps: readonly IdempotencyStep[]
  /** `outcome:code:reason` of the `idempotency` layer's decision events, in order. */
  readonly events: readonly string[]
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
  return { method: 'POST', path: step.path, headers }
}

export const idempotencyScenarios: readonly IdempotencyScenario[] = [
  {
    name: 'a retry replays the stored status, allowlisted headers and exact body',
    steps: [
      { path: '/payments?amount=5', key: '"replay-1"', status: 201, replayed: false },
      { path: '/payments?amount=5', key: '"replay-1"', status: 201, replayed: true, sameBodyAs: 0 },
    ],
    events: ['allow:ok:claimed', 'allow:ok:replayed'],
  },
  {
    name: 'a request without a key is refused with 400 where keys are required',
    steps: [{ path: '/payments', status: 400, code: 'invalid_idempotency_key' }],
    events: ['deny:invalid_idempotency_key:missing_key'],
  },
  {
    name: 'an unquoted key is refused with 400 (RFC 8941 sf-string)',
    steps: [{ path: '/payments', key: 'replay-2', status: 400, code: 'invalid_idempotency_key' }],
    events: ['deny:invalid_idempotency_key:malformed_key'],
  },
  {
    name: 'the key reused for another request is refused with 422',
    steps: [
      { path: '/payments?amount=5', key: '"reuse-1"', status: 201 },
      { path: '/payments?amount=7', key: '"reuse-1"', status: 422, code: 'idempotency_key_reused' },
    ],
    events: ['allow:ok:claimed', 'deny:idempotency_key_reused:fingerprint_mismatch'],
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
  },
  {
    name: 'a 5xx is not stored: the retry runs the handler again',
    steps: [
      { path: '/payments?fail=1', key: '"fail-1"', status: 503, replayed: false },
      { path: '/payments?fail=1', key: '"fail-1"', status: 503, replayed: false, otherBodyThan: 0 },
    ],
    events: ['allow:ok:claimed', 'allow:ok:claimed'],
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
  },
  {
    name: 'an unauthenticated request is refused before any key is looked at',
    steps: [{ path: '/payments', key: '"anon-1"', subject: null, status: 401 }],
    events: [],
  },
]
