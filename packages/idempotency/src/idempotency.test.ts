import { createHash } from 'node:crypto'
import { createServer, request as httpRequest, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline, Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Auth, DecisionEvent, IdempotencyStore } from '@zerotrust/core'
import {
  captureFetchResponse,
  captureNodeResponse,
  fromFetchRequest,
  fromNodeRequest,
  noOrigin,
  withRoute,
} from '@zerotrust/core/adapter'
import type {
  CapturedResponse,
  IdempotencyBegin,
  IdempotencyHandle,
  RequestBody,
} from '@zerotrust/core/layer'
import { describe, expect, it } from 'vitest'
import { idempotency } from './idempotency.js'
import type { IdempotencyOptions } from './lib/options.js'
import { memoryIdempotencyStore } from './memory-store.js'

const alice = { subject: 'alice', clientId: 'web', issuer: 'https://idp.example.com/' } as Auth
const bob = { subject: 'bob', clientId: 'web', issuer: 'https://idp.example.com/' } as Auth

const request = (key: string | undefined, method = 'POST', target = '/payments') => {
  const headers = new Headers()
  if (key !== undefined) headers.set('idempotency-key', key)
  return fromFetchRequest(new Request(`http://127.0.0.1${target}`, { method, headers }), {
    resolveOrigin: noOrigin,
  })
}
const json = (value: unknown): RequestBody => ({ kind: 'parsed', value })
const response = (
  status = 201,
  body = '{"id":1}',
  headers: CapturedResponse['headers'] = {},
): CapturedResponse => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: new TextEncoder().encode(body),
})
const handleOf = (begun: IdempotencyBegin): IdempotencyHandle => {
  if (begun.action !== 'proceed' || begun.handle === undefined)
    throw new Error(`expected a claim, got ${begun.action}`)
  return begun.handle
}
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

function setup(options: Partial<IdempotencyOptions> = {}) {
  const events: DecisionEvent[] = []
  const layer = idempotency({ store: memoryIdempotencyStore(), ...options })
  const begin = (
    key: string | undefined,
    body: unknown = { amount: 5 },
    auth: Auth | null = alice,
    method = 'POST',
  ) =>
    layer.begin({
      req: request(key, method),
      auth: auth ?? undefined,
      body: json(body),
      onDecision: (e) => events.push(e),
    })
  return { layer, begin, events }
}

describe('idempotency()', () => {
  it('runs the first request, then replays its status, allowlisted headers and body, marked as replayed', async () => {
    const { begin, events } = setup()
    const handle = handleOf(await begin('"k1"'))
    await handle.complete(
      response(201, '{"id":1}', { location: '/payments/1', 'set-cookie': ['s=1'], 'x-trace': 'a' }),
    )
    const replay = await begin('"k1"')
    expect(replay).toEqual({
      action: 'replay',
      response: {
        status: 201,
        headers: {
          'content-type': 'application/json',
          location: '/payments/1',
          'idempotent-replayed': 'true',
        },
        body: new TextEncoder().encode('{"id":1}'),
      },
    })
    expect(events.map((e) => [e.layer, e.outcome, e.code, e.reason, e.subject])).toEqual([
      ['idempotency', 'allow', 'ok', 'claimed', 'alice'],
      ['idempotency', 'allow', 'ok', 'replayed', 'alice'],
    ])
  })

  it('leaves other methods, and requests without a key when none is required, alone', async () => {
    const { begin, events } = setup()
    expect(await begin('"k"', {}, alice, 'GET')).toEqual({ action: 'proceed', handle: undefined })
    expect(await begin(undefined)).toEqual({ action: 'proceed', handle: undefined })
    expect(events).toEqual([])
  })

  it("with keyFormat 'lenient' replays a bare key's response to its quoted retry: one key, two spellings (issue 20)", async () => {
    const { begin } = setup({ keyFormat: 'lenient' })
    const handle = handleOf(await begin('8e03978e-40d5-43e8-bc93-6894a57f9324'))
    await handle.complete(response(201, '{"id":7}'))
    const replay = await begin('"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    expect(replay.action).toBe('replay')
    expect(await failure(begin('a b'))).toMatchObject({ status: 400, reason: 'malformed_key' })
    expect(() => idempotency({ store: memoryIdempotencyStore(), keyFormat: 'loose' as never })).toThrow(
      /"keyFormat" option must be "sf-string" or "lenient"/,
    )
  })

  it('answers a missing key with 400 where one is required, and a malformed one always', async () => {
    const { begin } = setup({ required: true })
    expect(await failure(begin(undefined))).toMatchObject({
      code: 'invalid_idempotency_key',
      status: 400,
      reason: 'missing_key',
    })
    expect(await failure(begin('k1'))).toMatchObject({ status: 400, reason: 'key_not_quoted' })
    expect(await failure(begin('"k1'))).toMatchObject({ status: 400, reason: 'malformed_key' })
    const repeated = request(undefined)
    const twice = {
      ...repeated,
      headerValues: (name: string) => (name === 'idempotency-key' ? ['"a"', '"b"'] : []),
    }
    expect(await failure(setup().layer.begin({ req: twice, auth: alice, body: undefined }))).toMatchObject({
      status: 400,
      reason: 'repeated_key',
    })
  })

  it('answers the same key with another payload with 422, in flight or completed', async () => {
    const { begin, events } = setup()
    const handle = handleOf(await begin('"k"', { amount: 5 }))
    expect(await failure(begin('"k"', { amount: 6 }))).toMatchObject({
      code: 'idempotency_key_reused',
      status: 422,
    })
    await handle.complete(response())
    expect(await failure(begin('"k"', { amount: 6 }))).toMatchObject({
      code: 'idempotency_key_reused',
      status: 422,
    })
    expect(events.at(-1)).toMatchObject({
      outcome: 'deny',
      code: 'idempotency_key_reused',
      status: 422,
      reason: 'fingerprint_mismatch',
    })
  })

  it.each([{ retryAfterSeconds: 2 }, { retryAfter: 2 }])(
    'answers a concurrent duplicate with 409 and Retry-After, set by %o (issue 13: the deprecated name works too)',
    async (retry) => {
      const { begin } = setup(retry)
      handleOf(await begin('"k"'))
      expect(await failure(begin('"k"'))).toEqual({
        code: 'idempotency_conflict',
        status: 409,
        reason: 'in_flight',
        retryAfter: 2,
      })
    },
  )

  it('with "wait", replays the first response once it completes', async () => {
    const { begin } = setup({ wait: { timeout: 2000, interval: 10 } })
    const handle = handleOf(await begin('"k"'))
    const second = begin('"k"')
    setTimeout(() => void handle.complete(response(201, '{"id":7}')), 50)
    expect(await second).toMatchObject({ action: 'replay', response: { status: 201 } })
  })

  it('with "wait", takes over a key the first request released, and gives up with 409 at the timeout', async () => {
    const { begin } = setup({ wait: { timeout: 100, interval: 10 } })
    const handle = handleOf(await begin('"k"'))
    const second = begin('"k"')
    setTimeout(() => void handle.release(), 30)
    const taken = handleOf(await second)
    expect(await failure(begin('"k"'))).toMatchObject({ code: 'idempotency_conflict' })
    await taken.release()
  })

  it('does not store a 5xx, 429 or a body over the cap: the key is released and the retry runs', async () => {
    for (const [status, body] of [
      [500, '{}'],
      [503, '{}'],
      [429, '{}'],
      [201, 'x'.repeat(11)],
    ] as const) {
      const { begin } = setup({ maxBodyBytes: 10 })
      const handle = handleOf(await begin('"k"'))
      await handle.complete(response(status, body))
      handleOf(await begin('"k"'))
    }
    const { begin } = setup()
    await handleOf(await begin('"k"')).complete({ status: 201, headers: {}, body: undefined })
    handleOf(await begin('"k"'))
  })

  it('stores 4xx answers, and what "storeResponse" chooses', async () => {
    const { begin } = setup()
    await handleOf(await begin('"k"')).complete(response(404, '{}'))
    expect(await begin('"k"')).toMatchObject({ action: 'replay', response: { status: 404 } })
    const custom = setup({ storeResponse: (status) => status === 201 })
    await handleOf(await custom.begin('"k"')).complete(response(200, '{}'))
    handleOf(await custom.begin('"k"'))
    const throwing = setup({
      storeResponse: () => {
        throw new Error('bug')
      },
    })
    await handleOf(await throwing.begin('"k"')).complete(response())
    handleOf(await throwing.begin('"k"'))
  })

  it('settles a claim once: a release after complete changes nothing', async () => {
    const { begin } = setup()
    const handle = handleOf(await begin('"k"'))
    await handle.complete(response())
    await handle.release()
    expect((await begin('"k"')).action).toBe('replay')
  })

  it("scopes keys to the caller: another caller's same key runs anew and sees nothing of the first", async () => {
    const { begin } = setup()
    await handleOf(await begin('"shared"', { amount: 5 }, alice)).complete(response(201, '{"owner":"alice"}'))
    const other = await begin('"shared"', { amount: 5 }, bob)
    expect(other.action).toBe('proceed')
    expect(other).not.toHaveProperty('response')
    // Another client of the same user, or the same subject of another issuer, is another caller too.
    expect((await begin('"shared"', { amount: 5 }, { ...alice, clientId: 'mobile' })).action).toBe('proceed')
    expect(
      (await begin('"shared"', { amount: 5 }, { ...alice, issuer: 'https://other.example/' })).action,
    ).toBe('proceed')
  })

  it('scopes keys to the method and path', async () => {
    const { layer } = setup()
    const at = (target: string) =>
      layer.begin({ req: request('"k"', 'POST', target), auth: alice, body: undefined })
    await handleOf(await at('/payments')).complete(response())
    expect((await at('/refunds')).action).toBe('proceed')
    // The query is part of the fingerprint, not of the scope: same key, other query → 422.
    expect(await failure(at('/payments?amount=7'))).toMatchObject({ code: 'idempotency_key_reused' })
  })

  it('fails closed without an authenticated caller unless "anonymous" is set', async () => {
    expect(await failure(setup().begin('"k"', {}, null))).toMatchObject({
      code: 'internal_error',
      status: 500,
      reason: 'unauthenticated',
    })
    const open = setup({ anonymous: true })
    await handleOf(await open.begin('"k"', {}, null)).complete(response())
    expect((await open.begin('"k"', {}, null)).action).toBe('replay')
    // An authenticated caller of an anonymous-capable route still has keys of its own.
    expect((await open.begin('"k"', {}, alice)).action).toBe('proceed')
  })

  it('refuses a token that names neither subject nor client', async () => {
    const nobody = { issuer: 'https://idp.example.com/' } as Auth
    expect(await failure(setup().begin('"k"', {}, nobody))).toMatchObject({
      code: 'access_denied',
      status: 403,
      reason: 'no_caller_identity',
    })
  })

  it('answers 503 when the store fails, and runs the handler unprotected with "pass-through"', async () => {
    const down: IdempotencyStore = {
      claim: () => Promise.reject(new Error('ECONNREFUSED')),
      complete: () => Promise.reject(new Error('ECONNREFUSED')),
      release: () => Promise.reject(new Error('ECONNREFUSED')),
    }
    const closed = setup({ store: down })
    expect(await failure(closed.begin('"k"'))).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      reason: 'store_unavailable',
    })
    expect(closed.events.at(-1)).toMatchObject({ outcome: 'error', code: 'dependency_unavailable' })
    const open = setup({ store: down, onStoreError: 'pass-through' })
    expect(await open.begin('"k"')).toEqual({ action: 'proceed', handle: undefined })
    expect(open.events.at(-1)).toMatchObject({ outcome: 'allow', code: 'ok', reason: 'pass_through' })
  })

  it('reports a store that fails after the handler ran, or a lock that lapsed, without rejecting', async () => {
    const memory = memoryIdempotencyStore()
    let failComplete = true
    const flaky: IdempotencyStore = {
      claim: (...args) => memory.claim(...args),
      complete: (...args) => (failComplete ? Promise.reject(new Error('timeout')) : memory.complete(...args)),
      release: (...args) => memory.release(...args),
    }
    const { begin, events } = setup({ store: flaky, lockTtl: 1 })
    await handleOf(await begin('"k"')).complete(response())
    expect(events.at(-1)).toMatchObject({
      outcome: 'error',
      code: 'dependency_unavailable',
      reason: 'complete_failed',
    })
    failComplete = false
    await new Promise((resolve) => setTimeout(resolve, 5))
    const handle = handleOf(await begin('"k2"'))
    await new Promise((resolve) => setTimeout(resolve, 5))
    await handle.complete(response())
    expect(events.at(-1)).toMatchObject({ outcome: 'error', reason: 'lock_expired' })
  })

  it('never puts the key, the body or the token in decision events', async () => {
    const { begin, events } = setup()
    await begin('"secret-key-123"', { card: '4242424242424242' })
    await failure(begin('"secret-key-123"', { card: '4000000000000002' }))
    const text = JSON.stringify(events)
    expect(text).not.toContain('secret-key-123')
    expect(text).not.toContain('4242')
  })

  it('rejects option mistakes at construction, naming the option', () => {
    const store = memoryIdempotencyStore()
    expect(() => idempotency({} as never)).toThrow(
      'idempotency: "store" option must be an idempotency store, such as memoryIdempotencyStore()',
    )
    expect(() => idempotency({ store, lockTtl: 0 })).toThrow(
      'idempotency: "lockTtl" option must be a positive integer',
    )
    expect(() => idempotency({ store, retention: -1 })).toThrow(
      /"retention" option must be a positive integer/,
    )
    expect(() => idempotency({ store, methods: [] })).toThrow(/"methods" option/)
    expect(() => idempotency({ store, methods: ['PO ST'] })).toThrow(/"methods.0" option/)
    expect(() => idempotency({ store, replayHeaders: ['content-length'] })).toThrow(
      /"replayHeaders.0" option must not list/,
    )
    expect(() => idempotency({ store, wait: { timeout: 0 } })).toThrow(/"wait.timeout" option/)
    expect(() => idempotency({ store, onStoreError: 'open' as never })).toThrow(
      /"onStoreError" option must be/,
    )
    expect(() => idempotency({ store, storeResponse: 201 as never })).toThrow(
      /"storeResponse" option must be a function/,
    )
    expect(() => idempotency({ store, requried: true } as never)).toThrow(
      /"requried" option is not recognized/,
    )
    expect(() => idempotency({ store, retryAfterSeconds: 0 })).toThrow(
      'idempotency: "retryAfterSeconds" option must be a positive integer number of seconds, at most 3600',
    )
    expect(() => idempotency({ store, retryAfter: 1, retryAfterSeconds: 1 })).toThrow(
      'idempotency: "retryAfter" option is the deprecated name of "retryAfterSeconds": set only one',
    )
  })
})

describe('idempotency() regressions', () => {
  it('stores and replays content-encoding and vary whatever the allowlist says', async () => {
    const { begin } = setup({ replayHeaders: ['content-type'] })
    const handle = handleOf(await begin('"k1"'))
    await handle.complete(
      response(200, 'gzip bytes', { 'content-encoding': 'gzip', vary: 'Accept-Encoding', etag: '"1"' }),
    )
    const replay = await begin('"k1"')
    expect(replay.action === 'replay' && replay.response.headers).toEqual({
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      vary: 'Accept-Encoding',
      'idempotent-replayed': 'true',
    })
  })

  it('reads a deferred body only for a request that takes part', async () => {
    const layer = idempotency({ store: memoryIdempotencyStore(), anonymous: true })
    let reads = 0
    const body = async (): Promise<RequestBody> => {
      reads += 1
      return json({ amount: 5 })
    }
    await layer.begin({ req: request('"k1"', 'PUT'), auth: undefined, body })
    await layer.begin({ req: request(undefined), auth: undefined, body })
    expect(reads).toBe(0)
    const required = idempotency({ store: memoryIdempotencyStore(), anonymous: true, required: true })
    await expect(required.begin({ req: request(undefined), auth: undefined, body })).rejects.toMatchObject({
      code: 'invalid_idempotency_key',
    })
    await expect(required.begin({ req: request('"k1'), auth: undefined, body })).rejects.toMatchObject({
      reason: 'malformed_key',
    })
    expect(reads).toBe(0)
    const handle = handleOf(await layer.begin({ req: request('"k1"'), auth: undefined, body }))
    await handle.complete(response())
    expect(reads).toBe(1)
    // The same payload handed as a value replays: a deferred body fingerprints alike.
    const replay = await layer.begin({ req: request('"k1"'), auth: undefined, body: json({ amount: 5 }) })
    expect(replay.action).toBe('replay')
  })
})

describe('idempotency() lock renewal', () => {
  /** Polls `condition` every 10 ms, at most 300 times. */
  const until = async (condition: () => boolean, what: string) => {
    for (let i = 0; i < 300; i++) {
      if (condition()) return
      await sleep(10)
    }
    throw new Error(`timed out waiting until ${what}`)
  }

  /**
   * A slow write: the first request's handler runs until the retries are done; retries arrive every
   * 150 ms for at least three lock lifetimes (600 ms each), at most 30 of them. The handler finishes
   * only then, so a slow machine cannot turn a retry into a replay; renewals every 200 ms leave 400 ms of
   * slack before a lock would lapse.
   */
  async function slowWrite(store: IdempotencyStore, lockTtl = 600) {
    const { begin } = setup({ store, lockTtl })
    let runs = 0
    const handles: IdempotencyHandle[] = []
    const send = async (): Promise<string> => {
      const begun = await begin('"slow"').catch((error: { code: string }) => error.code)
      if (typeof begun === 'string') return begun
      if (begun.action === 'replay') return 'replayed'
      runs += 1
      handles.push(handleOf(begun))
      return 'ran'
    }
    const first = await send()
    const retries: string[] = []
    const started = Date.now()
    while (Date.now() - started < 3 * lockTtl && retries.length < 30) {
      await sleep(150)
      retries.push(await send())
    }
    await Promise.all(handles.map((handle, i) => handle.complete(response(201, `{"run":${i + 1}}`))))
    const last = await send()
    return { answers: [first, ...retries, last], retries, runs: () => runs }
  }

  /**
   * A memory store whose `extend` is `extend` (the real one by default), counting the renewals asked
   * of it; `extend` receives the memory store's own and the attempt's number.
   */
  function renewing(
    extend: (
      real: NonNullable<IdempotencyStore['extend']>,
      args: [string, string, number],
      attempt: number,
    ) => Promise<boolean> | boolean = (real, args) => real(...args),
  ) {
    const memory = memoryIdempotencyStore()
    let renewals = 0
    const store: IdempotencyStore = {
      ...memory,
      extend: (...args) => {
        renewals += 1
        return extend(
          memory.extend as NonNullable<IdempotencyStore['extend']>,
          args,
          renewals,
        ) as Promise<boolean>
      },
    }
    return { store, renewals: () => renewals }
  }

  it('renews the lock of a handler that outlives "lockTtl": a retry meanwhile gets 409, the handler runs once', async () => {
    const { store, renewals: count } = renewing()
    const { answers, retries, runs } = await slowWrite(store)
    expect(answers[0]).toBe('ran')
    expect(retries.length).toBeGreaterThanOrEqual(3)
    expect(retries).toEqual(Array(retries.length).fill('idempotency_conflict'))
    expect(answers.at(-1)).toBe('replayed')
    expect(runs()).toBe(1)
    expect(count()).toBeGreaterThan(0)
    // Renewal stopped with the handler: no store traffic after it completed.
    const after = count()
    await sleep(250)
    expect(count()).toBe(after)
  }, 10_000)

  it('without a store that can renew, a lock that lapses lets a retry run the handler again', async () => {
    const memory = memoryIdempotencyStore()
    const store: IdempotencyStore = {
      claim: (...args) => memory.claim(...args),
      complete: (...args) => memory.complete(...args),
      release: (...args) => memory.release(...args),
    }
    const { answers, runs } = await slowWrite(store)
    // The gap renewal closes: a retry after the lock lapsed ran the handler a second time.
    expect(answers[0]).toBe('ran')
    expect(answers.slice(1, -1)).toContain('ran')
    expect(runs()).toBeGreaterThan(1)
  }, 10_000)

  it('stops renewing and reports it when the store refuses a renewal', async () => {
    for (const [extend, reason] of [[async () => false, 'lock_expired']] as const) {
      const { store, renewals: count } = renewing(() => extend())
      const { begin, events } = setup({ store, lockTtl: 30 })
      const handle = handleOf(await begin('"k"'))
      await until(() => events.length === 2, 'the renewal failure is reported')
      expect(events.at(-1)).toMatchObject({ outcome: 'error', code: 'dependency_unavailable', reason })
      expect(JSON.stringify(events.at(-1))).not.toContain('timeout')
      await sleep(60)
      expect(count()).toBe(1)
      // The response still goes out; complete finds it holds the key (the memory lock has not lapsed
      // here) or reports that it does not.
      await handle.complete(response())
    }
  })

  it('keeps trying a failing renewal while the lock may hold, then stops, reporting each failure', async () => {
    for (const extend of [
      () => Promise.reject(new Error('timeout')),
      () => {
        throw new Error('synchronous')
      },
    ]) {
      const { store, renewals: count } = renewing(() => extend())
      const { begin, events } = setup({ store, lockTtl: 60 })
      const handle = handleOf(await begin('"k"'))
      await until(() => events.length === 2, 'the renewal failure is reported')
      // Renewals come every 20 ms while the lock may hold (60 ms after the claim): three, four at most
      // (a timer may fire a little early), and fewer on a slow machine.
      await sleep(300)
      const after = count()
      await sleep(120)
      expect(count()).toBe(after)
      expect(after).toBeGreaterThanOrEqual(1)
      expect(after).toBeLessThanOrEqual(4)
      expect(events.slice(1)).toHaveLength(after)
      for (const event of events.slice(1)) {
        expect(event).toMatchObject({
          outcome: 'error',
          code: 'dependency_unavailable',
          reason: 'renew_failed',
        })
        expect(JSON.stringify(event)).not.toContain('timeout')
      }
      await handle.complete(response())
    }
  })

  it('survives a renewal that fails once: a retry meanwhile still gets 409, the handler runs once', async () => {
    // A store timeout: the lock still holds for two thirds of its lifetime, and the next one succeeds.
    const { store, renewals: count } = renewing((real, args, attempt) =>
      attempt === 1 ? Promise.reject(new Error('timeout')) : real(...args),
    )
    // Renewals every 400 ms: after the failed one, 400 ms of slack before the lock would lapse.
    const { answers, retries, runs } = await slowWrite(store, 1200)
    expect(answers[0]).toBe('ran')
    expect(retries).toEqual(Array(retries.length).fill('idempotency_conflict'))
    expect(answers.at(-1)).toBe('replayed')
    expect(runs()).toBe(1)
    expect(count()).toBeGreaterThan(2)
  }, 15_000)

  it('ignores a renewal that answers after the handle settled, and never renews a settled claim', async () => {
    const memory = memoryIdempotencyStore()
    let answer: ((held: boolean) => void) | undefined
    let renewals = 0
    const store: IdempotencyStore = {
      ...memory,
      extend: () => {
        renewals += 1
        return new Promise<boolean>((resolve) => {
          answer = resolve
        })
      },
    }
    const { begin, events } = setup({ store, lockTtl: 30 })
    const handle = handleOf(await begin('"k"'))
    await until(() => answer !== undefined, 'a renewal is in flight')
    await handle.complete(response())
    // The key is completed: the store answers false, which is no lapse to report.
    answer?.(false)
    await sleep(60)
    expect(renewals).toBe(1)
    expect(events.map((event) => event.reason)).toEqual(['claimed'])

    const released = handleOf(await begin('"k2"'))
    const before = renewals
    await released.release()
    await sleep(60)
    expect(renewals).toBe(before)
  })

  it('stops renewing after "maxLockHold" and reports it', async () => {
    const memory = memoryIdempotencyStore()
    let renewals = 0
    const store: IdempotencyStore = {
      ...memory,
      extend: (...args) => {
        renewals += 1
        return memory.extend(...args)
      },
    }
    const { begin, events } = setup({ store, lockTtl: 30, maxLockHold: 100 })
    const handle = handleOf(await begin('"k"'))
    await until(() => events.length === 2, 'the limit is reported')
    expect(events.at(-1)).toMatchObject({
      outcome: 'error',
      code: 'internal_error',
      reason: 'lock_hold_limit',
    })
    expect(renewals).toBeGreaterThan(0)
    const after = renewals
    await sleep(60)
    expect(renewals).toBe(after)
    // Its lock lapsed: the key is another request's now, and the late answer is reported, not stored.
    expect((await begin('"k"')).action).toBe('proceed')
    await handle.complete(response())
    expect(events.at(-1)).toMatchObject({ reason: 'lock_expired' })
  })

  it('rejects a bad "maxLockHold" or a store whose "extend" is not a function', () => {
    const store = memoryIdempotencyStore()
    expect(() => idempotency({ store, maxLockHold: 0 })).toThrow(
      'idempotency: "maxLockHold" option must be a positive integer',
    )
    expect(() => idempotency({ store: { ...store, extend: 1 } as never })).toThrow(
      /"store" option must be an idempotency store/,
    )
  })
})

describe('idempotency() on other runtimes and after aborted responses', () => {
  /** A memory store that counts its renewals. */
  function counted() {
    const memory = memoryIdempotencyStore()
    const seen = { renewals: 0 }
    const store: IdempotencyStore = {
      ...memory,
      extend: (...args) => {
        seen.renewals += 1
        return memory.extend(...args)
      },
    }
    return { store, seen }
  }

  /** Waits until `count()` holds still for three renewal periods (`every` ms), and returns it. */
  async function settledCount(count: () => number, every: number) {
    for (let i = 0; i < 100; i++) {
      const before = count()
      await sleep(3 * every)
      if (count() === before) return before
    }
    throw new Error('renewal never stopped')
  }

  it('claims, and renews, where setTimeout returns a number (Deno, Workers)', async () => {
    const { store, seen } = counted()
    const real = globalThis.setTimeout
    // The timers of Deno and Workers: a number, without unref.
    globalThis.setTimeout = ((callback: () => void, ms: number) => {
      real(callback, ms)
      return 1
    }) as unknown as typeof setTimeout
    try {
      const { begin } = setup({ store, lockTtl: 60 })
      const handle = handleOf(await begin('"k"'))
      expect(await failure(begin('"k"'))).toMatchObject({ code: 'idempotency_conflict' })
      const renewed = () => seen.renewals > 0
      for (let i = 0; i < 300 && !renewed(); i++) await new Promise((resolve) => real(resolve, 10))
      expect(seen.renewals).toBeGreaterThan(0)
      await handle.complete(response())
      expect((await begin('"k"')).action).toBe('replay')
    } finally {
      globalThis.setTimeout = real
    }
  })

  it('frees the key when something fails between the claim and the handle', async () => {
    const { store, seen } = counted()
    const { layer } = setup({ store, lockTtl: 30 })
    const warn = process.emitWarning
    // The sink throws and so does the warning about it: the report of the claim fails.
    process.emitWarning = () => {
      throw new Error('no warnings here')
    }
    const failing = {
      req: request('"k"'),
      auth: alice,
      body: json({ amount: 5 }),
      onDecision: () => {
        throw new Error('sink down')
      },
    }
    try {
      await expect(layer.begin(failing)).rejects.toThrow()
    } finally {
      process.emitWarning = warn
    }
    // The key is free (a retry claims it), and the failed claim is not renewed.
    await handleOf(await layer.begin({ ...failing, onDecision: undefined })).release()
    const before = seen.renewals
    await sleep(60)
    expect(seen.renewals).toBe(before)
  })

  it('releases the key of a Fetch body the client cancelled: the retry runs, renewal stops', async () => {
    const { store, seen } = counted()
    const { layer, events } = setup({ store, lockTtl: 60 })
    const input = { req: request('"k"'), auth: alice, body: json({ amount: 5 }), onDecision: () => {} }
    const handle = handleOf(await layer.begin(input))
    let chunk = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        chunk += 1
        controller.enqueue(new Uint8Array([chunk]))
      },
    })
    const out = await captureFetchResponse(new Response(endless), handle)
    const reader = out.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>
    await reader.read()
    await reader.cancel('client went away')
    // At once, not after minutes of 409s: the key is free and the retry runs.
    const retry = handleOf(await layer.begin(input))
    await retry.release()
    // Renewal stopped with the cancel (it would go on for "maxLockHold" otherwise).
    await settledCount(() => seen.renewals, 20)
    expect(events.filter((event) => event.outcome === 'error')).toEqual([])
  })

  /** Serves `handler` captured by a claim of the layer, requests it once with `client`, awaits the close. */
  async function serveNode(
    layer: ReturnType<typeof setup>['layer'],
    handler: (res: ServerResponse) => void,
    client: (port: number) => void,
  ) {
    let closed = () => {}
    const done = new Promise<void>((resolve) => {
      closed = resolve
    })
    const server = createServer(async (req, res) => {
      res.once('close', () => closed())
      const begun = await layer.begin({
        req: fromNodeRequest(req, { resolveOrigin: noOrigin }),
        auth: alice,
        body: undefined,
      })
      captureNodeResponse(res, handleOf(begun))
      handler(res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      client((server.address() as AddressInfo).port)
      await done
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
  const post = (port: number) =>
    httpRequest({
      port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/payments',
      headers: { 'idempotency-key': '"k"' },
    })

  it('stops renewing a Node response the client aborted mid-stream, and frees its key', async () => {
    const { store, seen } = counted()
    const { layer } = setup({ store, lockTtl: 60 })
    let piped: Error | null | undefined
    await serveNode(
      layer,
      (res) => {
        // A streaming handler: pipeline() destroys the response when the client goes away; no end().
        const source = new Readable({
          read() {
            setTimeout(() => this.push('x'.repeat(1024)), 5)
          },
        })
        pipeline(source, res, (error) => {
          piped = error
        })
      },
      (port) => {
        const client = post(port)
        client.on('response', (incoming) => incoming.once('data', () => client.destroy()))
        client.on('error', () => {})
        client.end()
      },
    )
    await settledCount(() => seen.renewals, 20)
    expect(piped).toBeInstanceOf(Error)
    // It had started answering: the retry runs.
    expect((await layer.begin({ req: request('"k"'), auth: alice, body: undefined })).action).toBe('proceed')
  })

  it('stops renewing a Node response destroyed before it answered, and lets its lock lapse', async () => {
    const { store, seen } = counted()
    // Renewals every 200 ms: the retry right after the close comes well within the lock.
    const { layer } = setup({ store, lockTtl: 600 })
    let served: ServerResponse | undefined
    await serveNode(
      layer,
      (res) => {
        served = res
        res.destroy()
      },
      (port) => {
        const client = post(port)
        client.on('error', () => {})
        client.end()
      },
    )
    // The handler may still be running: a retry right away gets 409, not a second run.
    expect(await failure(layer.begin({ req: request('"k"'), auth: alice, body: undefined }))).toMatchObject({
      code: 'idempotency_conflict',
    })
    // No renewal for a whole lock lifetime: the lock lapsed, and the retry runs.
    await settledCount(() => seen.renewals, 200)
    const retry = handleOf(await layer.begin({ req: request('"k"'), auth: alice, body: undefined }))
    // The first handler's answer after its lock lapsed changes nothing: the key is another claim's.
    served?.end('late')
    await retry.complete(response(201, '{"run":2}'))
    const replay = await layer.begin({ req: request('"k"'), auth: alice, body: undefined })
    expect(replay.action === 'replay' && new TextDecoder().decode(replay.response.body)).toBe('{"run":2}')
  })

  it('stores the answer a handler still gives after its client went away, while the lock holds', async () => {
    const { store } = counted()
    const { layer } = setup({ store, lockTtl: 60_000 })
    let served: ServerResponse | undefined
    await serveNode(
      layer,
      (res) => {
        served = res
        res.destroy()
      },
      (port) => {
        const client = post(port)
        client.on('error', () => {})
        client.end()
      },
    )
    // The handler finishes its work and answers into the closed connection: the answer is kept.
    served?.writeHead(201, { 'content-type': 'application/json' })
    served?.end('{"run":1}')
    let replay: Awaited<ReturnType<typeof layer.begin>> | undefined
    for (let i = 0; i < 100 && replay?.action !== 'replay'; i++) {
      await sleep(10)
      replay = await layer.begin({ req: request('"k"'), auth: alice, body: undefined }).catch(() => undefined)
    }
    expect(replay?.action === 'replay' && new TextDecoder().decode(replay.response.body)).toBe('{"run":1}')
  })

  it('reports how long after the begin a failure after the claim came', async () => {
    const memory = memoryIdempotencyStore()
    const store: IdempotencyStore = { ...memory, complete: () => Promise.reject(new Error('down')) }
    const { begin, events } = setup({ store })
    const handle = handleOf(await begin('"k"'))
    await sleep(30)
    await handle.complete(response())
    expect(events.at(-1)).toMatchObject({ reason: 'complete_failed' })
    expect(events.at(-1)?.durationMs).toBeGreaterThanOrEqual(25)
  })
})

describe('idempotency() regressions of issue 12', () => {
  const routed = (target: string, route: string | undefined, params?: Record<string, string>) =>
    withRoute(request('"k"', 'POST', target), route, params)

  it('scopes keys by the route and its parameters: another spelling of the path replays, not runs twice', async () => {
    const { layer, events } = setup()
    const at = (target: string, id = '7') =>
      layer.begin({
        req: routed(target, '/orders/:id', { id }),
        auth: alice,
        body: json({ amount: 5 }),
        onDecision: (e) => events.push(e),
      })
    await handleOf(await at('/orders/7')).complete(response())
    expect(await at('/orders/7/')).toMatchObject({ action: 'replay', response: { status: 201 } })
    expect(await at('/Orders/7')).toMatchObject({ action: 'replay', response: { status: 201 } })
    // Another order is another resource: its own run, never the first order's answer.
    expect(await at('/orders/8', '8')).toMatchObject({ action: 'proceed' })
    expect(events.map((e) => e.reason)).toEqual(['claimed', 'replayed', 'replayed', 'claimed'])
  })

  it('scopes keys by the path where no route is known, with the store key it always had', async () => {
    const memory = memoryIdempotencyStore()
    const keys: string[] = []
    const store: IdempotencyStore = {
      ...memory,
      claim: (key, ...rest) => {
        keys.push(key)
        return memory.claim(key, ...rest)
      },
    }
    const layer = idempotency({ store })
    const at = (target: string, route?: string) =>
      layer.begin({ req: routed(target, route), auth: alice, body: undefined })
    await handleOf(await at('/orders/7')).complete(response())
    expect((await at('/Orders/7')).action).toBe('proceed')
    // A pattern with an unnamed wildcard leaves part of the path unnamed: the path scopes the key.
    expect((await at('/files/a', '/files/*')).action).toBe('proceed')
    expect((await at('/files/b', '/files/*')).action).toBe('proceed')
    // Keys stored before route scoping (by the path) are still found after the upgrade.
    const { issuer, subject, clientId } = alice
    const before = createHash('sha256')
      .update(JSON.stringify(['caller', issuer, subject, clientId, 'POST', '/orders/7', 'k']))
      .digest('base64url')
    expect(keys[0]).toBe(before)
  })

  it('answers a body the framework left unparsed with 415, and a body no parser saw with 500', async () => {
    const { layer, events } = setup()
    const onDecision = (e: DecisionEvent) => events.push(e)
    const announced = (type: string) => {
      const headers = new Headers({ 'idempotency-key': '"k"', 'content-type': type, 'content-length': '5' })
      return fromFetchRequest(new Request('http://127.0.0.1/payments', { method: 'POST', headers }), {
        resolveOrigin: noOrigin,
      })
    }
    expect(
      await failure(
        layer.begin({ req: announced('text/plain'), auth: alice, body: { kind: 'unparsed' }, onDecision }),
      ),
    ).toMatchObject({ code: 'unsupported_media_type', status: 415, reason: 'body_not_parsed' })
    expect(events.at(-1)).toMatchObject({
      outcome: 'deny',
      code: 'unsupported_media_type',
      reason: 'body_not_parsed',
      status: 415,
    })
    expect(
      await failure(layer.begin({ req: announced('application/json'), auth: alice, body: undefined })),
    ).toMatchObject({ code: 'internal_error', status: 500, reason: 'body_not_read' })
    // A parser that found no body to read: the request takes part without one.
    const none = await layer.begin({ req: request('"k2"'), auth: alice, body: { kind: 'unparsed' } })
    expect(none.action).toBe('proceed')
  })

  it("reports a response over the caller's share as caller_quota with the status sent, not a store failure (issue 12)", async () => {
    const { begin, events } = setup({ store: memoryIdempotencyStore({ maxBytesPerCaller: 64 }) })
    const handle = handleOf(await begin('"k1"'))
    await handle.complete({ status: 201, headers: {}, body: new Uint8Array(256) })
    expect(events.at(-1)).toMatchObject({
      outcome: 'deny',
      code: 'rate_limited',
      reason: 'caller_quota',
      status: 201,
    })
  })

  it('reports a store failure after the answer with the status the client received, not 503', async () => {
    const memory = memoryIdempotencyStore()
    let mode: 'complete' | 'release' | 'expired' = 'complete'
    const store: IdempotencyStore = {
      ...memory,
      complete: (...args) =>
        mode === 'complete'
          ? Promise.reject(new Error('timeout'))
          : mode === 'expired'
            ? Promise.resolve(false)
            : memory.complete(...args),
      release: (...args) =>
        mode === 'release' ? Promise.reject(new Error('timeout')) : memory.release(...args),
    }
    const { begin, events } = setup({ store })
    await handleOf(await begin('"k1"')).complete(response(201))
    expect(events.at(-1)).toMatchObject({ outcome: 'error', reason: 'complete_failed', status: 201 })
    mode = 'expired'
    await handleOf(await begin('"k2"')).complete(response(200))
    expect(events.at(-1)).toMatchObject({ outcome: 'error', reason: 'lock_expired', status: 200 })
    mode = 'release'
    await handleOf(await begin('"k3"')).complete(response(502))
    expect(events.at(-1)).toMatchObject({ outcome: 'error', reason: 'release_failed', status: 502 })
    // A handler that threw answered through the error path, which the layer does not see: the code's status.
    await handleOf(await begin('"k4"')).release()
    expect(events.at(-1)).toMatchObject({ outcome: 'error', reason: 'release_failed', status: 503 })
  })
})
