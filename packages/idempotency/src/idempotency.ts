import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Auth,
  type IdempotencyClaim,
  type IdempotencyClaimOptions,
  type IdempotencyLayer,
  isZeroTrustError,
  type StoredResponse,
  ZeroTrustError,
} from '@zerotrust/core'
import {
  type CapturedResponse,
  type IdempotencyBegin,
  type IdempotencyHandle,
  type IdempotencyInput,
  refusedClaimError,
  toZeroTrustError,
} from '@zerotrust/core/layer'
import { fingerprint } from './lib/fingerprint.js'
import { parseIdempotencyKey } from './lib/key.js'
import { type IdempotencyOptions, type IdempotencySettings, idempotencySettings } from './lib/options.js'
import { layerName, type ReportedCaller, type ReportedRequest, report } from './lib/report.js'
import { type Resource, resourceOf } from './lib/resource.js'

const proceed: IdempotencyBegin = Object.freeze({ action: 'proceed', handle: undefined })

/**
 * `Idempotency-Key` handling for writes: the first request with a key runs and its response is stored;
 * a retry gets that response again (status, allowlisted headers, body, and `Idempotent-Replayed:
 * true`); a concurrent duplicate gets 409 with `Retry-After`; the key reused with another payload gets
 * 422. Keys are scoped to the authenticated caller (issuer, subject, client), to the method, and to the
 * resource: the matched route and its parameters where the adapter knows them (so `/orders/` and
 * `/Orders`, one route to a router that ignores case and a trailing slash, share a key), else the path.
 * One caller never receives another's response. A body the framework left unparsed for its media type
 * is refused with 415. The store learns the caller too: one over its share of the store gets 429 with
 * `Retry-After`, and other callers' writes still run. 5xx answers and thrown errors are not stored: the
 * key is released and the retry runs. While the handler runs, its claim is renewed every third of
 * `lockTtl` (with a store that has `extend`), so a slow handler is never run twice by a retry.
 *
 * Mount it with an adapter's `idempotent(layer)` after `authenticate()` (and after the body parser).
 *
 * @example
 * const writes = idempotency({ store: redisIdempotencyStore(redis), required: true })
 * app.post('/payments', idempotent(writes), createPayment)
 * @throws TypeError naming the option when an option is invalid
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-07
 */
export function idempotency(options: IdempotencyOptions): IdempotencyLayer {
  const settings = idempotencySettings(options)
  return Object.freeze({
    layer: layerName,
    begin: (input: IdempotencyInput) => begin(settings, input),
  })
}

async function begin(settings: IdempotencySettings, input: IdempotencyInput): Promise<IdempotencyBegin> {
  const { req, auth, body, onDecision } = input
  if (!settings.methods.has(req.method)) return proceed
  const values = req.headerValues('idempotency-key')
  if (values.length === 0 && !settings.required) return proceed

  const started = performance.now()
  let claimed = false
  try {
    if (values.length === 0) {
      throw new ZeroTrustError('invalid_idempotency_key', 'the "Idempotency-Key" header is required', {
        reason: 'missing_key',
      })
    }
    if (values.length > 1) {
      throw new ZeroTrustError('invalid_idempotency_key', 'the "Idempotency-Key" header is repeated', {
        reason: 'repeated_key',
      })
    }
    const key = parseIdempotencyKey(values[0] as string, settings.maxKeyLength, settings.keyFormat)
    const resource = resourceOf(req)
    const caller = callerOf(auth, settings.anonymous)
    const storeKey = scopedKey(caller, req.method, resource, key)
    // The caller's share of the store: a store with per-caller quotas refuses only the caller over it.
    const claimOptions = { caller: callerDigest(caller) }
    // Read only now: a request of another method, or without a key, keeps its body unread.
    const print = fingerprint(
      req,
      typeof body === 'function' ? await body() : body,
      settings.fields,
      resource.target,
    )

    let claim = await storeCall(() => settings.store.claim(storeKey, print, settings.lockTtl, claimOptions))
    if (claim.state === 'in_flight' && claim.fingerprint === print && settings.wait !== undefined) {
      claim = await waitFor(settings, storeKey, print, claim, claimOptions)
    }
    if (claim.state === 'refused') throw refusedClaimError(claim)
    if (claim.state !== 'claimed' && claim.fingerprint !== print) {
      throw new ZeroTrustError(
        'idempotency_key_reused',
        'the "Idempotency-Key" was used for another request',
        { reason: 'fingerprint_mismatch' },
      )
    }
    if (claim.state === 'in_flight') {
      throw new ZeroTrustError(
        'idempotency_conflict',
        'a request with this "Idempotency-Key" is still being processed',
        { reason: 'in_flight', retryAfter: settings.retryAfter },
      )
    }
    if (claim.state === 'completed') {
      report(onDecision, req, started, auth, undefined, 'replayed')
      return { action: 'replay', response: replayOf(claim.response) }
    }
    claimed = true
    const { owner } = claim
    let handle: IdempotencyHandle | undefined
    try {
      handle = handleFor(settings, input, started, storeKey, owner)
      report(onDecision, req, started, auth, undefined, 'claimed')
      return { action: 'proceed', handle }
    } catch (thrown) {
      // No handle goes back, so nobody would ever settle this claim: free the key, or a retry would get
      // 409 until the lock lapses (or until renewal gave up).
      if (handle !== undefined) await handle.release()
      else await settings.store.release(storeKey, owner).catch(() => undefined)
      throw thrown
    }
  } catch (thrown) {
    const error = toZeroTrustError(thrown)
    // A full store is the store failing us (as before it had its own reason); a caller over its share
    // is refused, never let through unprotected.
    const storeFailed = error.reason === 'store_unavailable' || error.reason === 'store_full'
    if (!claimed && storeFailed && settings.passThrough) {
      report(onDecision, req, started, auth, undefined, 'pass_through')
      return proceed
    }
    report(onDecision, req, started, auth, error)
    throw error
  }
}

/** Who the key belongs to; fails closed when nobody can be named. */
function callerOf(auth: Auth | undefined, anonymous: boolean): readonly string[] {
  if (auth === undefined) {
    if (anonymous) return ['anonymous']
    throw new ZeroTrustError(
      'internal_error',
      'idempotent() ran without an authenticated caller: mount authenticate() first, or set "anonymous: true"',
      { reason: 'unauthenticated' },
    )
  }
  if (auth.subject === undefined && auth.clientId === undefined) {
    // Without a subject or a client, every such token would share one key space.
    throw new ZeroTrustError(
      'access_denied',
      'the access token names no subject or client to scope the key to',
      {
        reason: 'no_caller_identity',
      },
    )
  }
  return ['caller', auth.issuer ?? '', auth.subject ?? '', auth.clientId ?? '']
}

/**
 * The store key: a digest, so that neither identities nor client keys are readable in the store. A
 * resource named by its path hashes as it always did, so keys stored before route scoping still match.
 */
function scopedKey(caller: readonly string[], method: string, resource: Resource, key: string): string {
  return createHash('sha256')
    .update(JSON.stringify([...caller, method, resource.scope, key]))
    .digest('base64url')
}

async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (cause) {
    throw new ZeroTrustError('dependency_unavailable', 'the idempotency store is unavailable', {
      reason: 'store_unavailable',
      cause,
    })
  }
}

async function waitFor(
  settings: IdempotencySettings,
  storeKey: string,
  print: string,
  first: IdempotencyClaim,
  claimOptions: IdempotencyClaimOptions,
): Promise<IdempotencyClaim> {
  const wait = settings.wait as { readonly timeout: number; readonly interval: number }
  const deadline = performance.now() + wait.timeout
  let claim = first
  while (claim.state === 'in_flight' && claim.fingerprint === print) {
    const left = deadline - performance.now()
    if (left <= 0) break
    await sleep(Math.min(wait.interval, left))
    // Claiming again, not just reading: a first request that released its key leaves it to us.
    claim = await storeCall(() => settings.store.claim(storeKey, print, settings.lockTtl, claimOptions))
  }
  return claim
}

/** The caller as the store sees it: a digest, so that no identity is readable in the store. */
function callerDigest(caller: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(caller)).digest('base64url')
}

function replayOf(stored: StoredResponse): StoredResponse {
  return {
    status: stored.status,
    headers: { ...stored.headers, 'idempotent-replayed': 'true' },
    body: stored.body,
  }
}

/**
 * The handle of a claimed key. It keeps of the request only what its decision events name (the sink,
 * method, path, request id and the caller's identifiers), so a request whose response is still being
 * sent, or was abandoned, does not keep its body or its token alive.
 */
function handleFor(
  settings: IdempotencySettings,
  input: IdempotencyInput,
  started: number,
  storeKey: string,
  owner: string,
): IdempotencyHandle {
  const { store } = settings
  const sink = input.onDecision
  const req = requestOf(input.req)
  const auth = callerIdsOf(input.auth)
  let settled = false
  // `sent`: the status of the answer the client received, once there is one; the event carries it.
  const reported = (error: ZeroTrustError, sent?: number) =>
    report(sink, req, started, auth, error, undefined, sent)
  const failed = (reason: string, cause?: unknown, sent?: number) =>
    reported(
      new ZeroTrustError('dependency_unavailable', 'the idempotency store is unavailable', { reason, cause }),
      sent,
    )
  const stopRenewal = renewLock(settings, storeKey, owner, failed, reported)
  const release = async (sent?: number) => {
    try {
      await store.release(storeKey, owner)
    } catch (cause) {
      failed('release_failed', cause, sent)
    }
  }
  return Object.freeze({
    maxBodyBytes: settings.maxBodyBytes,
    async complete(response: CapturedResponse) {
      if (settled) return
      settled = true
      stopRenewal()
      if (
        response.body === undefined ||
        response.body.byteLength > settings.maxBodyBytes ||
        !shouldStore(settings, response.status)
      ) {
        return release(response.status)
      }
      const stored: StoredResponse = {
        status: response.status,
        headers: replayHeaders(response.headers, settings.replayHeaders),
        body: response.body,
      }
      try {
        if (!(await store.complete(storeKey, owner, stored, settings.retention))) {
          // The lock lapsed while the handler ran and the key is another request's now.
          failed('lock_expired', undefined, response.status)
        }
      } catch (cause) {
        // The handler's work is done and its answer goes out (the event says with which status, not
        // the 503 of the code); the key stays locked until the lock TTL. A response over the caller's
        // share is reported as that refusal: the caller's quota, not the store's health.
        if (isZeroTrustError(cause) && cause.code === 'rate_limited') reported(cause, response.status)
        else failed('complete_failed', cause, response.status)
      }
    },
    async release() {
      if (settled) return
      settled = true
      stopRenewal()
      await release()
    },
    abandon() {
      // Only the renewal stops: the handler may still answer, and its answer is stored while the lock
      // is still this request's (a retry then gets the replay instead of running the handler again).
      if (settled) return
      stopRenewal()
    },
  })
}

function requestOf(req: IdempotencyInput['req']): ReportedRequest {
  const { method, path, requestId } = req
  return requestId === undefined ? { method, path } : { method, path, requestId }
}

function callerIdsOf(auth: Auth | undefined): ReportedCaller | undefined {
  if (auth === undefined) return undefined
  const { subject, clientId, issuer } = auth
  return { subject, clientId, issuer }
}

/**
 * Keeps a claim alive while its handler runs: renews the lock with the store's `extend` every third of
 * `lockTtl` (an unref'd timer, so it never keeps the process up), for at most `maxLockHold` after the
 * claim. A renewal the store fails (a timeout) is reported and tried again on schedule while the lock
 * may still be held, `lockTtl` after the last renewal that succeeded; renewal stops for good when that
 * passes, at the first renewal the store refuses (the lock lapsed and the key may be another request's;
 * reported), and at the limit (reported). The handler's answer goes out all the same, and `complete` then
 * finds whether it still owns the key. Returns the function that stops it, which the handle calls as it
 * settles. A store without `extend` is never renewed.
 */
function renewLock(
  settings: IdempotencySettings,
  storeKey: string,
  owner: string,
  failed: (reason: string, cause?: unknown) => void,
  reported: (error: ZeroTrustError) => void,
): () => void {
  const { store, lockTtl, maxLockHold } = settings
  if (store.extend === undefined) return () => {}
  const extend = store.extend.bind(store)
  const claimedAt = performance.now()
  // When the lock was last known to be held for `lockTtl` more: the claim, then each renewal sent and held.
  let heldFrom = claimedAt
  const every = Math.max(1, Math.floor(lockTtl / 3))
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const stop = () => {
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
  }
  const schedule = () => {
    timer = setTimeout(renew, every)
    // Node's timer object; Deno and Workers return a number, which never keeps the process up anyway.
    if (typeof timer === 'object') timer.unref?.()
  }
  const renew = () => {
    timer = undefined
    if (stopped) return
    const sent = performance.now()
    if (performance.now() - claimedAt >= maxLockHold) {
      // A handler that never answers, or a response nobody reads, must not hold its key for ever.
      stop()
      reported(
        new ZeroTrustError('internal_error', 'the handler outlived "maxLockHold": its lock now lapses', {
          reason: 'lock_hold_limit',
        }),
      )
      return
    }
    new Promise<boolean>((resolve) => resolve(extend(storeKey, owner, lockTtl))).then(
      (held) => {
        // Settled meanwhile: a completed or released key is no longer held, and that is no loss.
        if (stopped) return
        if (held === true) {
          heldFrom = sent
          return schedule()
        }
        stop()
        failed('lock_expired')
      },
      (cause: unknown) => {
        if (stopped) return
        failed('renew_failed', cause)
        // A blip: the lock still holds until `lockTtl` after the last renewal, so try again meanwhile.
        if (performance.now() < heldFrom + lockTtl) schedule()
        else stop()
      },
    )
  }
  try {
    schedule()
  } catch (error) {
    stop()
    throw error
  }
  return stop
}

/** The `storeResponse` option's answer; a function that throws stores nothing (the retry then runs). */
function shouldStore(settings: IdempotencySettings, status: number): boolean {
  try {
    return settings.storeResponse(status) === true
  } catch {
    return false
  }
}

// Stored bytes are the bytes sent, encoded by a compression step that ran before the capture (Fastify's
// onSend, koa-compress inside the route): the replay must say how they are encoded, whatever the
// allowlist says, or a client would decode them wrongly or a compression step would encode them twice.
const describesStoredBytes = new Set(['content-encoding', 'vary'])

function replayHeaders(
  headers: CapturedResponse['headers'],
  allowed: ReadonlySet<string>,
): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (value === undefined || !(allowed.has(lower) || describesStoredBytes.has(lower))) continue
    out[lower] = Array.isArray(value) ? value.map(String) : String(value)
  }
  return out
}
