// Issue 15: the workload identity scenarios, run against real servers of every framework on 127.0.0.1
// (and Hono's app.request, which has no socket and so no peer address to trust).
import type { DecisionEvent } from '@zerotrust/core'
import { type TestIssuer, testIssuer } from '@zerotrust/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MountedApp } from './harness.js'
import { frameworks } from './mounts/index.js'
import { publicOrigin, realm } from './scenarios.js'
import {
  audience,
  issuer,
  unauthenticated,
  type WorkloadAppKind,
  workloadAuthenticator,
  workloadAuthorizer,
  workloadScenarios,
} from './workload-scenarios.js'

// Mounts that serve over a socket hand layers the peer's address; app.request has none.
const withoutPeer = new Set(['hono (app.request)'])

let idp: TestIssuer
beforeAll(async () => {
  idp = await testIssuer({ issuer, audience })
})

describe.each(Object.entries(frameworks))('workload identity on %s', (name, mount) => {
  const events: DecisionEvent[] = []
  const apps = new Map<WorkloadAppKind, MountedApp>()
  const peerKnown = !withoutPeer.has(name)

  beforeAll(async () => {
    for (const kind of ['mtls', 'xfcc', 'xfcc-elsewhere', 'l5d', 'xfcc-and-token'] as const) {
      apps.set(
        kind,
        await mount({
          authenticator: workloadAuthenticator(kind, idp),
          onDecision: (e) => events.push(e),
          realm,
          publicOrigin,
          cedar: workloadAuthorizer(),
        }),
      )
    }
  })
  afterAll(async () => {
    await Promise.all([...apps.values()].map((app) => app.close()))
  })

  it.each(workloadScenarios.map((s) => [s.name, s] as const))('%s', async (_title, scenario) => {
    events.length = 0
    const app = apps.get(scenario.app) as MountedApp
    const request = await scenario.request(idp)
    const response = await app.send(request)
    const seen = events.map(({ durationMs, ...rest }) => {
      expect(durationMs).toBeGreaterThanOrEqual(0)
      return rest
    })

    if (scenario.needsPeer && !peerKnown) {
      // Without a peer address no hop is trusted: the sidecar header is ignored, whatever it says.
      const sent = request.headers
        .map(([header]) => header.toLowerCase())
        .filter((header) => header === 'x-forwarded-client-cert' || header === 'l5d-client-id')
      expect(response.status).toBe(401)
      expect(JSON.parse(response.body)).toMatchObject({
        code: 'unauthenticated_workload',
        reason: 'untrusted_hop',
      })
      const [first] = scenario.events()
      expect(seen).toEqual([
        unauthenticated('untrusted_hop', {
          layer: first?.layer ?? 'workload',
          method: request.method,
          path: request.path,
          ...(sent.length === 0 ? {} : { ignoredHeaders: sent }),
        }),
      ])
      return
    }

    expect(response.status).toBe(scenario.status)
    if (scenario.status >= 400) {
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
    }
    // No HTTP scheme proves a workload: its 401 carries no challenge (docs/errors.md).
    if (JSON.parse(response.body || '{}').code === 'unauthenticated_workload') {
      expect(response.headers['www-authenticate']).toBeUndefined()
    }
    if (scenario.body) expect(JSON.parse(response.body)).toMatchObject(scenario.body())
    expect(seen).toEqual(scenario.events())
  })
})
