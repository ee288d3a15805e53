// One table of HTTP scenarios, run against real servers of every framework on 127.0.0.1: the adapters
// must answer every scenario identically, down to the decision events.
import type { DecisionEvent } from '@zerotrust/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MountedApp } from '../src/harness.js'
import { frameworks } from '../src/mounts/index.js'
import { type AuthenticatorKind, publicOrigin, realm, scenarios } from '../src/scenarios.js'
import { startFixtures } from './fixtures.js'

let fixtures: Awaited<ReturnType<typeof startFixtures>>
beforeAll(async () => {
  fixtures = await startFixtures()
})
afterAll(() => fixtures.close())

describe.each(Object.entries(frameworks))('%s', (_name, mount) => {
  const events: DecisionEvent[] = []
  const apps = new Map<AuthenticatorKind, MountedApp>()

  beforeAll(async () => {
    for (const kind of ['issuer', 'issuer-down', 'jwt-or-opaque', 'broken', 'broken-sync'] as const) {
      apps.set(
        kind,
        await mount({
          authenticator: fixtures.authenticator(kind),
          onDecision: (e) => events.push(e),
          realm,
          publicOrigin,
        }),
      )
    }
  })
  afterAll(async () => {
    await Promise.all([...apps.values()].map((app) => app.close()))
  })

  it.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_title, scenario) => {
    events.length = 0
    const app = apps.get(scenario.authenticator) as MountedApp
    const response = await app.send(await scenario.request(fixtures))

    expect(response.status).toBe(scenario.status)
    if (scenario.wwwAuthenticate === null) expect(response.headers['www-authenticate']).toBeUndefined()
    else if (typeof scenario.wwwAuthenticate === 'string') {
      expect(response.headers['www-authenticate']).toBe(scenario.wwwAuthenticate)
    }
    if (scenario.retryAfter) expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    if (scenario.status >= 400)
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
    if (scenario.body) expect(JSON.parse(response.body)).toMatchObject(scenario.body(fixtures))
    if (scenario.bodyExcludes) expect(response.body).not.toContain(scenario.bodyExcludes)
    if (scenario.events) {
      const seen = events.map(({ durationMs, ...rest }) => {
        expect(durationMs).toBeGreaterThanOrEqual(0)
        return rest
      })
      expect(seen).toEqual(scenario.events(fixtures))
    }
  })
})
