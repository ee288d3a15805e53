// The idempotency scenarios, run against real servers of every framework on 127.0.0.1: each adapter's
// idempotent() must answer every sequence identically, down to the decision events.
import type { DecisionEvent, IdempotencyStore } from '@zerotrust/core'
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MountedApp, TestResponse } from '../src/harness.js'
import {
  heldPayments,
  idempotencyEvents,
  idempotencyScenarios,
  paymentRuns,
  releaseHeldPayments,
  stepRequest,
} from '../src/idempotency-scenarios.js'
import { frameworks } from '../src/mounts/index.js'
import { publicOrigin, realm } from '../src/scenarios.js'
import { startFixtures } from './fixtures.js'

// A store we cannot make fail for real here: every call rejects as a dropped connection would.
const down: IdempotencyStore = {
  claim: () => Promise.reject(new Error('ECONNREFUSED')),
  complete: () => Promise.reject(new Error('ECONNREFUSED')),
  release: () => Promise.reject(new Error('ECONNREFUSED')),
}

/** A store that claims keys but fails every write of a response, as a store timing out after the claim. */
function forgetfulStore(): IdempotencyStore {
  const memory = memoryIdempotencyStore()
  return { ...memory, complete: () => Promise.reject(new Error('ETIMEDOUT')) }
}

let fixtures: Awaited<ReturnType<typeof startFixtures>>
beforeAll(async () => {
  fixtures = await startFixtures()
})
afterAll(() => fixtures.close())

describe.each(Object.entries(frameworks))('idempotency on %s', (name, mount) => {
  const events: DecisionEvent[] = []
  let app: MountedApp
  let downApp: MountedApp
  let forgetfulApp: MountedApp

  beforeAll(async () => {
    const options = {
      authenticator: fixtures.authenticator('issuer'),
      onDecision: (e: DecisionEvent) => events.push(e),
      realm,
      publicOrigin,
    }
    const store = memoryIdempotencyStore()
    app = await mount({ ...options, idempotency: idempotency({ store, required: true, maxBodyBytes: 4096 }) })
    downApp = await mount({ ...options, idempotency: idempotency({ store: down, required: true }) })
    forgetfulApp = await mount({
      ...options,
      idempotency: idempotency({ store: forgetfulStore(), required: true }),
    })
  })
  afterAll(async () => {
    await app.close()
    await downApp.close()
    await forgetfulApp.close()
  })

  const scenarios = idempotencyScenarios.filter((s) => s.frameworks?.includes(name) ?? true)
  it.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_title, scenario) => {
    events.length = 0
    const runsBefore = paymentRuns()
    const target = scenario.store === 'down' ? downApp : scenario.store === 'forgetful' ? forgetfulApp : app
    const token = (subject: string) => fixtures.token({ sub: subject })
    const answers: TestResponse[] = []
    const background: Promise<TestResponse>[] = []
    for (const step of scenario.steps) {
      const request = await stepRequest(step, token)
      if (step.background) {
        background.push(target.send(request))
        // Bounded: the next step goes once this request's handler holds (at most 200 × 10 ms).
        for (let i = 0; i < 200 && heldPayments() === 0; i++) await new Promise((r) => setTimeout(r, 10))
        expect(heldPayments()).toBe(1)
        answers.push({ status: 0, headers: {}, body: '' })
        continue
      }
      answers.push(await target.send(request))
    }
    releaseHeldPayments()
    const late = await Promise.all(background)
    scenario.steps.forEach((step, index) => {
      const answer = step.background ? (late.shift() as TestResponse) : (answers[index] as TestResponse)
      expect(answer.status, `step ${index}`).toBe(step.status)
      if (step.replayed === true) expect(answer.headers['idempotent-replayed']).toBe('true')
      if (step.replayed === false) expect(answer.headers['idempotent-replayed']).toBeUndefined()
      if (step.retryAfter) expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      if (step.code !== undefined) {
        expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
        expect(JSON.parse(answer.body)).toMatchObject({ code: step.code, status: step.status })
      }
      if (step.cookie === true) expect(answer.headers['set-cookie']).toMatch(/^session=s\d+/)
      if (step.cookie === false) expect(answer.headers['set-cookie']).toBeUndefined()
      if (step.bytes !== undefined) expect(Buffer.byteLength(answer.body)).toBe(step.bytes)
      if (step.bodiless) {
        expect(answer.body).toBe('')
        expect(answer.headers['content-length'] ?? '0').toBe('0')
        expect(answer.headers.location).toMatch(/^\/payments\/\d+$/)
        if (step.sameBodyAs !== undefined) {
          // Framed as the framework framed the first answer (node-server sends a 205 as an empty chunked body).
          const earlier = answers[step.sameBodyAs] as TestResponse
          expect(answer.headers['content-length']).toBe(earlier.headers['content-length'])
          expect(answer.headers['transfer-encoding']).toBe(earlier.headers['transfer-encoding'])
        }
      }
      if ((step.status === 201 || step.status === 503) && step.code === undefined) {
        expect(JSON.parse(answer.body)).toHaveProperty('payment')
        expect(answer.headers.location).toMatch(/^\/payments\/\d+$/)
      }
      if (step.sameBodyAs !== undefined) {
        const earlier = answers[step.sameBodyAs] as TestResponse
        expect(answer.body).toBe(earlier.body)
        expect(answer.headers.location).toBe(earlier.headers.location)
        expect(answer.headers['content-type']).toBe(earlier.headers['content-type'])
        // Outside the replay allowlist: present on the first answer only.
        expect(earlier.headers['x-payment-run']).toBeDefined()
        expect(answer.headers['x-payment-run']).toBeUndefined()
      }
      if (step.otherBodyThan !== undefined) {
        expect(answer.body).not.toBe((answers[step.otherBodyThan] as TestResponse).body)
      }
    })
    expect(idempotencyEvents(events)).toEqual(scenario.events)
    if (scenario.statuses !== undefined) {
      // Every event carries the status the client received (issue 12).
      const layerEvents = events.filter((e) => e.layer === 'idempotency')
      expect(layerEvents.map((e) => e.status)).toEqual(scenario.statuses)
    }
    expect(paymentRuns() - runsBefore).toBe(scenario.runs)
  })
})
