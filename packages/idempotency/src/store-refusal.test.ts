// How the layer answers a claim the store refuses (issue 12, item 3): 429 to the caller over its share,
// 503 when the whole store is full, each with the store's own Retry-After; and which caller it names.
import type { Auth, DecisionEvent, IdempotencyClaimOptions, IdempotencyStore } from '@zerotrust/core'
import { fromFetchRequest, noOrigin } from '@zerotrust/core/adapter'
import { describe, expect, it } from 'vitest'
import { idempotency } from './idempotency.js'
import { memoryIdempotencyStore } from './memory-store.js'

const alice = { subject: 'alice', clientId: 'web', issuer: 'https://idp.example.com/' } as Auth
const bob = { subject: 'bob', clientId: 'web', issuer: 'https://idp.example.com/' } as Auth

const request = (key: string) =>
  fromFetchRequest(
    new Request('http://127.0.0.1/payments', { method: 'POST', headers: { 'idempotency-key': key } }),
    { resolveOrigin: noOrigin },
  )
const body = { kind: 'parsed', value: { amount: 1 } } as const
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: { code: string; status: number; reason?: string; retryAfter?: number }) => ({
      code: error.code,
      status: error.status,
      reason: error.reason,
      retryAfter: error.retryAfter,
    }),
  )

/** A store that refuses every new claim as `refusal` says, and records the callers it was told. */
function refusingStore(refusal: { reason: 'caller_quota' | 'store_full'; retryAfterMs: number }) {
  const callers: (string | undefined)[] = []
  const store: IdempotencyStore = {
    async claim(_key, _fingerprint, _ttl, options?: IdempotencyClaimOptions) {
      callers.push(options?.caller)
      return { state: 'refused', ...refusal }
    },
    complete: async () => false,
    release: async () => false,
  }
  return { store, callers }
}

describe('idempotency: claims the store refuses (issue 12)', () => {
  it('answers 429 caller_quota with the Retry-After the store gives, rounded up, and reports a deny', async () => {
    const { store } = refusingStore({ reason: 'caller_quota', retryAfterMs: 41_200 })
    const events: DecisionEvent[] = []
    const layer = idempotency({ store })
    const begun = layer.begin({ req: request('"k1"'), auth: alice, body, onDecision: (e) => events.push(e) })
    expect(await failure(begun)).toEqual({
      code: 'rate_limited',
      status: 429,
      reason: 'caller_quota',
      retryAfter: 42,
    })
    expect(events).toMatchObject([{ layer: 'idempotency', outcome: 'deny', code: 'rate_limited' }])
  })

  it('answers 503 store_full with the Retry-After the store gives (at least 1 s); pass-through lets it run', async () => {
    const { store } = refusingStore({ reason: 'store_full', retryAfterMs: 0 })
    expect(await failure(idempotency({ store }).begin({ req: request('"k1"'), auth: alice, body }))).toEqual({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'store_full',
      retryAfter: 1,
    })
    const lenient = idempotency({ store, onStoreError: 'pass-through' })
    expect(await lenient.begin({ req: request('"k1"'), auth: alice, body })).toMatchObject({
      action: 'proceed',
      handle: undefined,
    })
    // A caller over its share is never let through unprotected, whatever onStoreError says.
    const quota = refusingStore({ reason: 'caller_quota', retryAfterMs: 1000 }).store
    const refused = idempotency({ store: quota, onStoreError: 'pass-through' })
    expect(await failure(refused.begin({ req: request('"k1"'), auth: alice, body }))).toMatchObject({
      status: 429,
    })
  })

  it('names each caller to the store by a digest, one per caller, the same for all its keys', async () => {
    const { store, callers } = refusingStore({ reason: 'caller_quota', retryAfterMs: 1000 })
    const layer = idempotency({ store, anonymous: true })
    for (const auth of [alice, alice, bob, undefined]) {
      await failure(layer.begin({ req: request(`"k-${callers.length}"`), auth, body }))
    }
    const [a1, a2, b, anonymous] = callers
    expect(a1).toMatch(/^[\w-]{43}$/)
    expect(a2).toBe(a1)
    expect(new Set([a1, b, anonymous]).size).toBe(3)
    expect(callers.join()).not.toMatch(/alice|bob|idp\.example/)
  })

  it("keeps a flood of one caller's keys from refusing another caller's write, on the memory store", async () => {
    const layer = idempotency({ store: memoryIdempotencyStore({ maxEntries: 50, maxEntriesPerCaller: 10 }) })
    for (let i = 0; i < 10; i++) {
      expect((await layer.begin({ req: request(`"flood-${i}"`), auth: bob, body })).action).toBe('proceed')
    }
    expect(await failure(layer.begin({ req: request('"flood-10"'), auth: bob, body }))).toMatchObject({
      code: 'rate_limited',
      status: 429,
    })
    expect((await layer.begin({ req: request('"mine"'), auth: alice, body })).action).toBe('proceed')
  })
})
