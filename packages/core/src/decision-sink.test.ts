// Regression test for issue 12 (the audit of fire-and-forget promises): an `onDecision` sink is called
// and not awaited, so an async sink that rejects (an audit log whose database is down) must not become an
// unhandled rejection, which ends the process.
import { afterEach, expect, it, vi } from 'vitest'
import { requestLike } from '../test/request-like.js'
import type { Auth, Authenticator } from './auth.js'
import { runAuthentication } from './decision.js'
import { ZeroTrustError } from './errors.js'

const auth: Auth = {
  subject: 'alice',
  issuer: 'https://idp.example.com/',
  audience: ['api://orders'],
  clientId: 'web',
  scopes: [],
  claims: { sub: 'alice' },
  scheme: 'Bearer',
  format: 'jwt',
  expiresAt: 2_000_000_000,
  cnf: undefined,
}
const req = requestLike({ authorization: 'Bearer x' })
const allow: Authenticator = { layer: 'test', authenticate: async () => auth }
const deny: Authenticator = {
  layer: 'test',
  authenticate: async () => {
    throw new ZeroTrustError('invalid_token', 'bad token', { reason: 'signature' })
  },
}

const cleanup: (() => void)[] = []
afterEach(() => {
  for (const step of cleanup.splice(0).reverse()) step()
})

it('issue 12: an async onDecision sink that rejects keeps the decision, warns, and does not crash', async () => {
  const rejections: unknown[] = []
  const listener = (reason: unknown) => rejections.push(reason)
  process.on('unhandledRejection', listener)
  cleanup.push(() => process.off('unhandledRejection', listener))
  const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
  cleanup.push(() => warn.mockRestore())
  let calls = 0
  const sink = async () => {
    calls += 1
    throw new Error('the audit database is down')
  }

  await expect(runAuthentication(allow, req, sink)).resolves.toBe(auth)
  await expect(runAuthentication(deny, req, sink)).rejects.toMatchObject({
    code: 'invalid_token',
    status: 401,
  })
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(calls).toBe(2)
  expect(rejections).toEqual([])
  expect(warn).toHaveBeenCalledTimes(2)
  expect(warn).toHaveBeenCalledWith('zerotrust: the onDecision sink threw: Error', 'ZeroTrustWarning')
})
