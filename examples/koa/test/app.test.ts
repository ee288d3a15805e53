import type { DecisionEvent } from '@zerotrust/core'
import {
  type AuthorizationServer,
  startAuthorizationServer,
  startHttpServer,
  type TestHttpServer,
} from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'

let as: AuthorizationServer
let server: TestHttpServer
let url: string
const events: DecisionEvent[] = []

beforeAll(async () => {
  as = await startAuthorizationServer({
    resources: [{ indicator: 'api://orders', scope: 'orders:read orders:write' }],
    clients: [{ clientId: 'orders-client' }, { clientId: 'other-client' }],
  })
  const app = buildApp({ issuer: as.issuer, audience: 'api://orders', onDecision: (e) => events.push(e) })
  server = await startHttpServer(app.callback())
  url = server.url
})

afterAll(async () => {
  await server.close()
  await as.close()
})

describe('the Koa orders example', () => {
  it('creates and reads an order with the right scopes, and keeps it from anyone else', async () => {
    const { accessToken } = await as.token({ scope: 'orders:read orders:write', resource: 'api://orders' })
    const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }
    const created = await fetch(`${url}/orders`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ item: 'tea', quantity: 2 }),
    })
    expect(created.status).toBe(201)
    const order = (await created.json()) as { id: string }
    const read = await fetch(`${url}/orders/${order.id}`, { headers })
    expect(read.status).toBe(200)
    expect(await read.json()).toMatchObject({ item: 'tea', quantity: 2, createdBy: 'orders-client' })

    const other = await as.token({ clientId: 'other-client', scope: 'orders:read', resource: 'api://orders' })
    const foreign = await fetch(`${url}/orders/${order.id}`, {
      headers: { authorization: `Bearer ${other.accessToken}` },
    })
    expect(foreign.status).toBe(403)
    expect(await foreign.json()).toMatchObject({ code: 'access_denied', reason: 'not_owner' })
  })

  it('refuses a write without orders:write, and anything without a token', async () => {
    const { accessToken } = await as.token({ scope: 'orders:read', resource: 'api://orders' })
    const denied = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}` },
    })
    expect(denied.status).toBe(403)
    expect(denied.headers.get('www-authenticate')).toContain('scope="orders:write"')
    const anonymous = await fetch(`${url}/orders`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="orders"')
    expect((await fetch(`${url}/health`)).status).toBe(200)
    expect(events.some((e) => e.code === 'insufficient_scope')).toBe(true)
  })
})
