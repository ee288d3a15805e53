// Issue #6: the Cedar scenarios, run against real servers of every framework on 127.0.0.1. Each adapter
// must hand the authorizer the matched route pattern and parameters, and answer alike.
import type { DecisionEvent } from '@zerotrust/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cedarScenarios, seedAuthorizer } from '../src/cedar-scenarios.js'
import type { MountedApp } from '../src/harness.js'
import { frameworks } from '../src/mounts/index.js'
import { publicOrigin, realm } from '../src/scenarios.js'
import { startFixtures } from './fixtures.js'

let fixtures: Awaited<ReturnType<typeof startFixtures>>
beforeAll(async () => {
  fixtures = await startFixtures()
})
afterAll(() => fixtures.close())

describe.each(Object.entries(frameworks))('cedar on %s', (_name, mount) => {
  const events: DecisionEvent[] = []
  let app: MountedApp

  beforeAll(async () => {
    app = await mount({
      authenticator: fixtures.authenticator('issuer'),
      onDecision: (e) => events.push(e),
      realm,
      publicOrigin,
      cedar: seedAuthorizer(),
    })
  })
  afterAll(() => app.close())

  it.each(cedarScenarios.map((s) => [s.name, s] as const))('%s', async (_title, scenario) => {
    events.length = 0
    const response = await app.send(await scenario.request(fixtures))

    expect(response.status).toBe(scenario.status)
    if (scenario.status >= 400) {
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
      // A policy denial is not an authentication failure: no challenge.
      expect(response.headers['www-authenticate']).toBeUndefined()
    }
    if (scenario.body) expect(JSON.parse(response.body)).toMatchObject(scenario.body())
    for (const text of scenario.bodyExcludes ?? []) expect(response.body).not.toContain(text)
    const cedarEvents = events
      .filter((e) => e.layer === 'cedar')
      .map(({ durationMs, ...rest }) => {
        expect(durationMs).toBeGreaterThanOrEqual(0)
        return rest
      })
    expect(cedarEvents).toEqual([scenario.event(fixtures)])
  })
})
