import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type ClientEvent,
  clientCredentials,
  clientReasons,
  clientSecretBasic,
  zeroTrustClient,
} from '@zerotrust/client'
import { startHttpServer, type TestHttpServer } from '@zerotrust/testkit'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// The outbound events of @zerotrust/client are a shape of their own (origin, attempt, retryInMs, peer…),
// which docs/decision-event.schema.json does not admit: docs/client-event.schema.json is theirs, and a
// SIEM parses them against it (issue 18).
const root = fileURLToPath(new URL('../../../', import.meta.url))
const read = (name: string) => JSON.parse(readFileSync(join(root, 'docs', name), 'utf8'))
const schema = read('client-event.schema.json')
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema)

let server: TestHttpServer
let busy = 0

beforeAll(async () => {
  server = await startHttpServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (req.url === '/token') {
      const basic = Buffer.from('checkout:thesecret').toString('base64')
      if (req.headers.authorization !== `Basic ${basic}`) json(401, { error: 'invalid_client' })
      else json(200, { access_token: 'the-access-token', token_type: 'Bearer', expires_in: 300 })
    } else if (req.url?.startsWith('/busy')) {
      busy++
      json(503, {})
    } else if (req.url?.startsWith('/missing')) json(404, { title: 'not found' })
    else json(200, {})
  })
})
afterAll(async () => {
  await server.close()
})

describe('client events hold to docs/client-event.schema.json', () => {
  it('lists the codes of the decision events and exactly the reasons of the client', () => {
    expect(schema.properties.code.enum).toEqual(read('decision-event.schema.json').properties.code.enum)
    expect([...schema.properties.reason.enum].sort()).toEqual([...clientReasons].sort())
  })

  it("validates the client's allow, deny, error and retry events and its token requests' events", async () => {
    const events: ClientEvent[] = []
    const onEvent = (event: ClientEvent) => events.push(event)
    const credentials = (secret: string) =>
      clientCredentials({
        issuer: server.url,
        tokenEndpoint: `${server.url}/token`,
        clientId: 'checkout',
        auth: clientSecretBasic(secret),
        audience: 'api://billing',
        onEvent,
      })
    const client = zeroTrustClient({
      baseUrl: server.url,
      tokens: credentials('thesecret'),
      retry: { attempts: 2, baseDelay: 1, maxDelay: 2 },
      propagate: {
        inject(set) {
          set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
          set('authorization', 'Bearer not-this-one')
        },
      },
      onEvent,
    })
    const refused = zeroTrustClient({ baseUrl: server.url, tokens: credentials('wrong'), onEvent })
    const failing = zeroTrustClient({
      baseUrl: server.url,
      propagate: {
        inject() {
          throw new Error('no context')
        },
      },
      onEvent,
    })
    try {
      await client.fetch('/v1/charges?customer=c1', { method: 'POST', body: '{}' })
      await client.fetch('/missing/1').catch(() => undefined)
      await client.fetch('/busy').catch(() => undefined)
      await refused.fetch('/v1/charges').catch(() => undefined)
      await failing.fetch('/health')
    } finally {
      await Promise.all([client.close(), refused.close(), failing.close()])
    }
    expect(busy).toBe(2)
    expect(events.map((e) => `${e.layer}:${e.outcome}:${e.code}:${e.reason ?? ''}`)).toEqual([
      'client_credentials:allow:ok:',
      'client:allow:ok:',
      'client:deny:internal_error:upstream_refused',
      'client:error:dependency_unavailable:upstream_unavailable',
      'client:error:dependency_unavailable:upstream_unavailable',
      'client_credentials:deny:internal_error:token_refused',
      // The call that token was for, reported although nothing was sent.
      'client:error:internal_error:token_refused',
      'client:allow:ok:',
    ])
    expect(events[3]?.retryInMs).toBeGreaterThanOrEqual(0)
    expect(events[1]?.diagnostics).toEqual(['propagator_header_refused:authorization'])
    expect(events.at(-1)?.diagnostics).toEqual(['propagator_failed'])
    for (const event of events) {
      expect(validate(event), JSON.stringify(validate.errors)).toBe(true)
    }
    expect(JSON.stringify(events)).not.toMatch(/the-access-token|thesecret|customer/)
    // An attempt over mutual TLS names both workloads.
    const full: ClientEvent = {
      layer: 'client',
      outcome: 'error',
      code: 'dependency_unavailable',
      reason: 'peer_mismatch',
      method: 'GET',
      origin: 'https://billing.internal:8443',
      path: '/v1/charges',
      attempt: 1,
      workload: 'spiffe://prod.example.com/ns/shop/sa/checkout',
      peer: 'spiffe://prod.example.com/ns/billing/sa/billing-api',
      diagnostics: ['propagator_header_invalid'],
      durationMs: 0.4,
    }
    expect(validate(full), JSON.stringify(validate.errors)).toBe(true)
  })

  it('refuses what an event must never carry', () => {
    const base = {
      layer: 'client',
      outcome: 'allow',
      code: 'ok',
      status: 200,
      method: 'GET',
      origin: 'https://billing.internal:8443',
      path: '/v1/charges',
      attempt: 1,
      durationMs: 1,
    }
    expect(validate(base)).toBe(true)
    expect(validate({ ...base, token: 'eyJ' })).toBe(false)
    expect(validate({ ...base, path: '/v1/charges?access_token=x' })).toBe(false)
    expect(validate({ ...base, origin: 'https://billing.internal:8443/v1' })).toBe(false)
    expect(validate({ ...base, reason: 'made_up' })).toBe(false)
    expect(validate({ ...base, layer: 'jwt' })).toBe(false)
  })
})
