import { setTimeout as sleep } from 'node:timers/promises'
import type { DecisionEvent } from '@zerotrust/core'
import {
  type AuthorizationServer,
  createDpopProof,
  generateSigningKey,
  startAuthorizationServer,
} from '@zerotrust/testkit'
import { decodeJwt } from 'jose'
import { type OrdersService, publicOrigin, startOrdersService } from './orders-service.js'

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where the demo writes its lines; nowhere by default. */
  readonly log?: (line: string) => void
}

/** One scripted call and what the service answered. */
export interface DemoStep {
  readonly title: string
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly status: number
  /** The `WWW-Authenticate` header, when the service sent one. */
  readonly wwwAuthenticate: string | undefined
  /** The `error` attribute of the challenge (RFC 6750 §3), when there is one. */
  readonly error: string | undefined
  /** The `scope` attribute of the challenge, when there is one. */
  readonly scope: string | undefined
  /** `true` when the service answered with a stored response (`Idempotent-Replayed`). */
  readonly replayed: boolean
  readonly body: unknown
}

/** How the scripted client sends one request. */
interface CallOptions {
  readonly token?: string
  /** `Bearer` unless a DPoP proof is sent. */
  readonly scheme?: 'Bearer' | 'DPoP'
  readonly proof?: string
  readonly idempotencyKey?: string
  readonly body?: Readonly<Record<string, unknown>>
}

/** What {@link runDemo} saw: the answers, and the decisions the service reported. */
export interface DemoResult {
  readonly steps: readonly DemoStep[]
  readonly events: readonly DecisionEvent[]
}

/** The identifier of the orders API, the `aud` of its tokens. */
export const audience = 'api://orders'

/**
 * Runs the zerotrust demo end to end on loopback: a real authorization server (oidc-provider) issues
 * RFC 9068 tokens, an Express 5 service checks them with `@zerotrust/jwt`, `@zerotrust/dpop`,
 * `@zerotrust/idempotency` and `@zerotrust/cedar` through `@zerotrust/express`, and a scripted client
 * shows each layer allowing and refusing: bearer tokens (allowed, none, expired, missing scope), DPoP
 * (a proof, its replay, the bound token sent as bearer), idempotent retries (replayed, key reused with
 * another payload) and a Cedar policy (your own order, someone else's). Everything it started is closed
 * before it resolves.
 *
 * @example
 * const { steps, events } = await runDemo({ log: console.log })
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const log = options.log ?? (() => {})
  const events: DecisionEvent[] = []
  const steps: DemoStep[] = []
  let as: AuthorizationServer | undefined
  let service: OrdersService | undefined

  try {
    as = await startAuthorizationServer({
      resources: [{ indicator: audience, scope: 'orders:read orders:write' }],
      clients: [{ clientId: 'orders-client' }],
    })
    const server = as
    // No clock skew allowance, so that a one-second token is refused a second later.
    service = await startOrdersService({
      issuer: as.issuer,
      audience,
      clockTolerance: 0,
      onDecision: (event) => events.push(event),
    })

    log('zerotrust demo')
    log(`  authorization server  ${as.issuer}  (oidc-provider, ES256, typ at+jwt)`)
    log(`  orders service        ${service.url}  (Express 5: jwt, dpop, idempotency, cedar)`)
    log(`  public origin         ${publicOrigin}  (DPoP proofs name it; the service never trusts Host)`)
    log('')

    const call = async (
      title: string,
      method: DemoStep['method'],
      path: string,
      options: CallOptions = {},
    ): Promise<DemoStep> => {
      const headers: Record<string, string> = { accept: 'application/json' }
      if (options.token !== undefined)
        headers.authorization = `${options.scheme ?? 'Bearer'} ${options.token}`
      if (options.proof !== undefined) headers.dpop = options.proof
      if (options.idempotencyKey !== undefined) headers['idempotency-key'] = `"${options.idempotencyKey}"`
      const init: RequestInit = { method, headers }
      if (method === 'POST') {
        headers['content-type'] = 'application/json'
        init.body = JSON.stringify(options.body ?? { item: 'tea', quantity: 1 })
      }
      const response = await fetch(new URL(path, service?.url), init)
      const text = await response.text()
      const wwwAuthenticate = response.headers.get('www-authenticate') ?? undefined
      const step: DemoStep = {
        title,
        method,
        path,
        status: response.status,
        wwwAuthenticate,
        error: challengeParam(wwwAuthenticate, 'error'),
        scope: challengeParam(wwwAuthenticate, 'scope'),
        replayed: response.headers.get('idempotent-replayed') === 'true',
        body: parseBody(text),
      }
      steps.push(step)
      printStep(log, steps.length, step)
      return step
    }

    const reader = await as.token({ scope: 'orders:read' })
    await call('allowed: a token with scope "orders:read"', 'GET', '/orders', { token: reader.accessToken })

    await call('no token: the request carries no credentials', 'GET', '/orders')

    const shortLived = await as.token({ scope: 'orders:read', expiresIn: 1 })
    const exp = decodeJwt(shortLived.accessToken).exp ?? 0
    const wait = Math.max(0, exp * 1000 - Date.now()) + 50
    log(`   (waiting ${(wait / 1000).toFixed(1)} s for a one-second token to expire)`)
    await sleep(wait)
    await call('expired: a token past its "exp"', 'GET', '/orders', { token: shortLived.accessToken })

    await call('missing scope: creating an order needs "orders:write"', 'POST', '/orders', {
      token: reader.accessToken,
    })

    // RFC 9449: a token bound to the client's key, usable only with a fresh proof made with that key.
    const clientKey = await generateSigningKey('ES256')
    const bound = await server.token({
      scope: 'orders:read',
      dpopProof: await createDpopProof(clientKey, { method: 'POST', url: server.tokenEndpoint }),
    })
    const proof = await createDpopProof(clientKey, {
      method: 'GET',
      url: `${publicOrigin}/orders`,
      accessToken: bound.accessToken,
    })
    const proven = { token: bound.accessToken, scheme: 'DPoP', proof } as const
    await call('DPoP: a key-bound token with a fresh proof of the key', 'GET', '/orders', proven)
    await call('DPoP: the same proof again (a captured request replayed)', 'GET', '/orders', proven)
    await call('DPoP: the bound token stolen and sent as a bearer token', 'GET', '/orders', {
      token: bound.accessToken,
    })

    // Idempotency-Key: a retried write runs once; the retry gets the stored answer.
    const writer = await as.token({ scope: 'orders:read orders:write' })
    const order = { item: 'green tea', quantity: 3 }
    const create = { token: writer.accessToken, idempotencyKey: 'order-7f3a', body: order }
    const created = await call('idempotent create: a POST with an Idempotency-Key', 'POST', '/orders', create)
    await call('idempotent create: the client retries with the same key', 'POST', '/orders', create)
    await call('idempotent create: the same key with another payload', 'POST', '/orders', {
      ...create,
      body: { item: 'black tea', quantity: 30 },
    })

    // Cedar: a caller reads an order only when it created it.
    const createdId = (created.body as { id?: string } | undefined)?.id ?? 'o-2'
    await call('policy: reading the order you created', 'GET', `/orders/${createdId}`, {
      token: writer.accessToken,
    })
    await call("policy: reading someone else's order", 'GET', '/orders/o-1', { token: writer.accessToken })

    log('decision events reported to onDecision:')
    for (const event of events) log(`  ${formatEvent(event)}`)
    return { steps, events }
  } finally {
    await service?.close()
    await as?.close()
  }
}

function printStep(log: (line: string) => void, index: number, step: DemoStep): void {
  log(`${index}. ${step.title}`)
  log(`   ${step.method} ${step.path} -> ${step.status} ${statusText(step.status)}`)
  if (step.wwwAuthenticate !== undefined) log(`   WWW-Authenticate: ${step.wwwAuthenticate}`)
  if (step.replayed) log('   Idempotent-Replayed: true')
  log(`   body: ${JSON.stringify(step.body)}`)
  log('')
}

function formatEvent(event: DecisionEvent): string {
  const parts = [
    event.layer.padEnd(11),
    event.outcome.padEnd(5),
    (event.reason === undefined ? event.code : `${event.code} (${event.reason})`).padEnd(34),
    `${event.method} ${event.path}`.padEnd(13),
  ]
  if (event.status !== undefined) parts.push(`status=${event.status}`)
  if (event.subject !== undefined) parts.push(`sub=${event.subject}`)
  if (event.clientId !== undefined) parts.push(`client_id=${event.clientId}`)
  if (event.policies !== undefined && event.policies.length > 0)
    parts.push(`policies=${event.policies.join(',')}`)
  parts.push(`${event.durationMs.toFixed(2)} ms`)
  return parts.join(' ')
}

const statusTexts: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  401: 'Unauthorized',
  403: 'Forbidden',
  422: 'Unprocessable Content',
  503: 'Service Unavailable',
}

function statusText(status: number): string {
  return statusTexts[status] ?? ''
}

/** Reads one auth-param of the first challenge (RFC 9110 §11.2), quoted or not. */
export function challengeParam(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  const match = new RegExp(`(?:^|[\\s,])${name}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s,]+))`, 'i').exec(header)
  if (match === null) return undefined
  return match[1] === undefined ? match[2] : match[1].replace(/\\(.)/g, '$1')
}

function parseBody(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
