// Every adapter sends an error exactly as core renders it: the same status, the same headers and the
// same bytes, so a client (or a cache, or a WAF rule) written against one framework holds for all four
// (issue 20).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MountedApp, TestResponse } from '../src/harness.js'
import { frameworks } from '../src/mounts/index.js'
import { type AuthenticatorKind, publicOrigin, realm, scenarios } from '../src/scenarios.js'
import { startFixtures } from './fixtures.js'

// Headers the framework or the connection owns, not the error: they differ by design (Express's
// `X-Powered-By` is the application's to turn off) and say nothing about the problem.
const transportHeaders = new Set(['date', 'connection', 'keep-alive', 'x-powered-by'])

function comparable(response: TestResponse): {
  status: number
  headers: Record<string, string>
  body: string
} {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(response.headers)) {
    if (!transportHeaders.has(name)) headers[name] = value
  }
  return { status: response.status, headers, body: response.body }
}

let fixtures: Awaited<ReturnType<typeof startFixtures>>
const apps = new Map<string, Map<AuthenticatorKind, MountedApp>>()

beforeAll(async () => {
  fixtures = await startFixtures()
  for (const [name, mount] of Object.entries(frameworks)) {
    const mounted = new Map<AuthenticatorKind, MountedApp>()
    for (const kind of ['issuer', 'issuer-down', 'jwt-or-opaque', 'broken', 'broken-sync'] as const) {
      mounted.set(
        kind,
        await mount({
          authenticator: fixtures.authenticator(kind),
          onDecision: () => {},
          realm,
          publicOrigin,
        }),
      )
    }
    apps.set(name, mounted)
  }
})
afterAll(async () => {
  await Promise.all([...apps.values()].flatMap((mounted) => [...mounted.values()].map((app) => app.close())))
  await fixtures.close()
})

describe('an error response is the same on every adapter, byte for byte (issue 20)', () => {
  it.each(scenarios.filter((s) => s.status >= 400).map((s) => [s.name, s] as const))(
    '%s',
    async (_title, scenario) => {
      // One request for all: a token signed once, so the bodies can be compared as bytes.
      const request = await scenario.request(fixtures)
      const seen: Record<string, ReturnType<typeof comparable>> = {}
      // The Fetch API's Headers joins a repeated header into one value before Hono sees it, so a request
      // that repeats one is compared over the sockets only.
      const names = request.headers.map(([name]) => name.toLowerCase())
      const repeats = new Set(names).size !== names.length
      for (const [name, mounted] of apps) {
        if (repeats && name === 'hono (app.request)') continue
        seen[name] = comparable(await (mounted.get(scenario.authenticator) as MountedApp).send(request))
      }
      const [first, ...rest] = Object.entries(seen)
      if (first === undefined) throw new Error('no framework mounted')
      const [, expected] = first
      expect(expected.status).toBe(scenario.status)
      expect(expected.headers['content-type']).toBe('application/problem+json')
      expect(expected.headers['content-length']).toBe(String(Buffer.byteLength(expected.body)))
      for (const [name, response] of rest) expect({ name, ...response }).toEqual({ name, ...expected })
    },
  )
})
