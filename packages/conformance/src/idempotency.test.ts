// The idempotency scenarios, run against real servers of every framework on 127.0.0.1: each adapter's
// idempotent() must answer every sequence identically, down to the decision events.
import type { DecisionEvent } from '@zerotrust/core'
import { idempotency, memoryIdempotencyStore } from '@zerotrust/idempotency'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFixtures } from './fixtures.js'
import type { Mount, MountedApp, TestResponse } from './harness.js'
import {
  heldPayments,
  idempotencyEvents,
  idempotencyScenarios,
  releaseHeldPayments,
  stepRequest,
} from './idempotency-scenarios.js'
import { mountExpress } from './mounts/express.js'
import { mountFastify } from './mounts/fastify.js'
import { mountHonoFetch, mountHonoNode } from './mounts/hono.js'
import { mountKoa } from './mounts/koa.js'
import { publicOrigin, realm } from './scenarios.js'

const frameworks: Record<string, Mount> = {
  express: mountExpress,
  fastify: mountFastify,
  koa: mountKoa,
  'hono (node-server)': mountHonoNode,
  'hono (app.request)': mountHonoFetch,
}

let fixtures: Awaited<ReturnType<typeof startFixtures>>
beforeAll(async () => {
  fixtures = await startFixtures()
})
afterAll(() => fixtures.close())

describe.each(Object.entries(frameworks))('idempotency on %s', (_name, mount) => {
  const events: DecisionEvent[] = []
  let app: MountedApp

  beforeAll(async () => {
    app = await mount({
      authenticator: fixtures.authenticator('issuer'),
      onDecision: (e) => events.push(e),
      realm,
      publicOrigin,
      idempotency: idempotency({ store: memoryIdempotencyStore(), required: true }),
    })
  })
  afterAll(() => app.close())

  it.each(idempotencyScenarios.map((s) => [s.name, s] as const))('%s', async (_title, scenario) => {
    events.length = 0
    const token = (subject: string) => fixtures.token({ sub: subject })
    const answers: TestResponse[] = []
    const background: Promise<TestResponse>[] = []
    for (const step of scenario.steps) {
      const request = await stepRequest(step, token)
      if (step.background) {
        background.push(app.send(request))
        // Bounded: the next step goes once this request's handler holds (at most 200 × 10 ms).
        for (let i = 0; i < 200 && heldPayments() === 0; i++) await new Promise((r) => setTimeout(r, 10))
        expect(heldPayments()).toBe(1)
        answers.push({ status: 0, headers: {}, body: '' })
        continue
      }
      answers.push(await app.send(request))
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
      if (step.status === 201 || step.status === 503) {
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
  })
})
