import { setTimeout as sleep } from 'node:timers/promises'
import type { DecisionEvent } from '@zerotrust/core'
import { type AuthorizationServer, startAuthorizationServer } from '@zerotrust/testkit'
import { decodeJwt } from 'jose'
import { type OrdersService, startOrdersService } from './orders-service.js'

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
  readonly body: unknown
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
 * RFC 9068 tokens, an Express 5 service verifies them with `@zerotrust/jwt` and `@zerotrust/express`,
 * and a scripted client makes four calls: allowed, no token, expired token, missing scope. Everything
 * it started is closed before it resolves.
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
    // No clock skew allowance, so that a one-second token is refused a second later.
    service = await startOrdersService({
      issuer: as.issuer,
      audience,
      clockTolerance: 0,
      onDecision: (event) => events.push(event),
    })

    log('zerotrust demo')
    log(`  authorization server  ${as.issuer}  (oidc-provider, ES256, typ at+jwt)`)
    log(`  orders service        ${service.url}  (Express 5 with @zerotrust/jwt and @zerotrust/express)`)
    log('')

    const call = async (
      title: string,
      method: DemoStep['method'],
      path: string,
      token: string | undefined,
    ): Promise<DemoStep> => {
      const headers: Record<string, string> = { accept: 'application/json' }
      if (token !== undefined) headers.authorization = `Bearer ${token}`
      const init: RequestInit = { method, headers }
      if (method === 'POST') {
        headers['content-type'] = 'application/json'
        init.body = JSON.stringify({ item: 'tea', quantity: 1 })
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
        body: parseBody(text),
      }
      steps.push(step)
      printStep(log, steps.length, step)
      return step
    }

    const reader = await as.token({ scope: 'orders:read' })
    await call('allowed: a token with scope "orders:read"', 'GET', '/orders', reader.accessToken)

    await call('no token: the request carries no credentials', 'GET', '/orders', undefined)

    const shortLived = await as.token({ scope: 'orders:read', expiresIn: 1 })
    const exp = decodeJwt(shortLived.accessToken).exp ?? 0
    const wait = Math.max(0, exp * 1000 - Date.now()) + 50
    log(`   (waiting ${(wait / 1000).toFixed(1)} s for a one-second token to expire)`)
    await sleep(wait)
    await call('expired: a token past its "exp"', 'GET', '/orders', shortLived.accessToken)

    await call('missing scope: creating an order needs "orders:write"', 'POST', '/orders', reader.accessToken)

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
  log(`   body: ${JSON.stringify(step.body)}`)
  log('')
}

function formatEvent(event: DecisionEvent): string {
  const parts = [
    event.layer.padEnd(6),
    event.outcome.padEnd(5),
    (event.reason === undefined ? event.code : `${event.code} (${event.reason})`).padEnd(34),
    `${event.method} ${event.path}`.padEnd(13),
  ]
  if (event.status !== undefined) parts.push(`status=${event.status}`)
  if (event.subject !== undefined) parts.push(`sub=${event.subject}`)
  if (event.clientId !== undefined) parts.push(`client_id=${event.clientId}`)
  parts.push(`${event.durationMs.toFixed(2)} ms`)
  return parts.join(' ')
}

const statusTexts: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  401: 'Unauthorized',
  403: 'Forbidden',
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
